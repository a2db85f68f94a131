"""Events out: webhook delivery throughput and lag, and what 5 subscriptions cost the tickets.

One run starts the embedded Temporal dev server the way `ticketflow dev` does (bench/harness.py),
a migrated SQLite app database, the worker and the API as processes (`python -m ticketflow
worker|api`), and a webhook receiver in this process (uvicorn on 127.0.0.1, on the allowed
hosts), which checks each delivery's signature and notes when it arrived. Then, in order:

* warm-up: a few tickets, not counted;
* baseline: N tickets of bench/throughput.py's two-stage definition driven to closed over HTTP
  (create, claim + complete twice, confirm), C in flight, no subscription;
* with subscriptions: 5 subscriptions (every event type) by a system account, then N more
  tickets the same way, while their delivery workflows post every event to the receiver.

Printed: tickets/s of both phases and their ratio; deliveries/s (from the first ticket of the
second phase to the last delivery of its events); the end-to-end lag from the transition (the
CloudEvent's `time`, the workflow's clock when it recorded the event) to receipt, p50/p99/max;
and how many deliveries arrived more than once (at least once: receivers deduplicate by id).
The outbox is written in both phases (it is part of every projection), so the ratio is what
delivering costs, not what recording costs.

Run from the repository root (the default run takes a minute or two here):

    PYTHONPATH=$PWD .venv/bin/python bench/events.py [--tickets 100] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import socket
import sqlite3
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path

import httpx
import uvicorn
from harness import (
    API,
    HOST,
    TEMPORAL,
    TICKET_QUEUE,
    TICKET_WORKER,
    Api,
    BenchError,
    Stack,
    api_client,
    byte_compile,
    connect_temporal,
    exit_now,
    free_ports,
    guarded,
    in_lanes,
    note,
    percentile,
    prepare_database,
    run_stack,
    start_child,
    wait_for_api,
)
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from throughput import DEFINITION, OWNER, USERS, drive_ticket

from domain.webhook_signatures import verified
from ticketflow.devstack import Child
from ticketflow.temporal_server import dev_server_command, temporal_binary

SUBSCRIBER = "feeds"
SUBSCRIPTIONS = 5
WARM_UP = 5
# How long the run waits for the last deliveries before it gives up.
DRAIN_TIMEOUT = 300.0
STARTUP_PATIENCE = 300.0
KEY = bytes(range(32))
SECRET = "whsec_" + base64.b64encode(KEY).decode()


@dataclass
class Receiver:
    """What arrived: per (path, event id) the receipt times, and each event's lag."""

    port: int
    arrivals: Counter[tuple[str, str]] = field(default_factory=Counter)
    lags: list[float] = field(default_factory=list)
    last: float = 0.0
    forged: int = 0

    def url(self, name: str) -> str:
        """The URL of one subscriber's path."""
        return f"http://{HOST}:{self.port}/hooks/{name}"


def receiver_app(receiver: Receiver) -> Starlette:
    """Check the signature, note the arrival and the lag, answer 204."""

    async def hook(request: Request) -> Response:
        received = time.time()
        body = await request.body()
        if not verified(KEY, request.headers, body, int(received)):
            receiver.forged += 1
            return Response(status_code=400)
        document = json.loads(body)
        path = (request.path_params["name"], document["id"])
        if not receiver.arrivals[path]:
            receiver.lags.append(received - datetime.fromisoformat(document["time"]).timestamp())
        receiver.arrivals[path] += 1
        receiver.last = time.perf_counter()
        return Response(status_code=204)

    return Starlette(routes=[Route("/hooks/{name}", hook, methods=["POST"])])


@dataclass
class Report:
    """What the run prints."""

    baseline: float
    with_subscriptions: float
    deliveries: int
    delivery_seconds: float
    lags: list[float]
    duplicates: int
    forged: int


async def run_tickets(
    api: Api, count: int, concurrency: int, offset: int
) -> tuple[float, list[str]]:
    """Drive `count` tickets to closed, C in flight; (tickets/s, their keys)."""
    start = time.perf_counter()
    done = await in_lanes(count, concurrency, lambda i: drive_ticket(api, {}, offset + i))
    return count / (time.perf_counter() - start), [key for _, key in done]


async def patient_start(http: httpx.AsyncClient, children: dict[str, Child]) -> None:
    """Wait for the API longer than the harness does: on a machine shared with other work,
    importing the app alone can take half a minute."""
    deadline = time.monotonic() + STARTUP_PATIENCE
    while True:
        try:
            await wait_for_api(http, children)
            return
        except BenchError:
            if time.monotonic() > deadline:
                raise


def outbox_count(database: Path, keys: list[str]) -> int:
    """How many events of these tickets the projection put in the outbox."""
    with sqlite3.connect(database) as db:
        marks = ",".join("?" * len(keys))
        (count,) = db.execute(
            f"SELECT count(*) FROM outbox WHERE ticket_key IN ({marks})", keys
        ).fetchone()
    return int(count)


async def bench(args: argparse.Namespace, workdir: Path, children: dict[str, Child]) -> Report:
    """Start the stack and the receiver, run both phases, wait for the deliveries."""
    byte_compile()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind((HOST, 0))
    receiver = Receiver(port=sock.getsockname()[1])
    server = uvicorn.Server(
        uvicorn.Config(receiver_app(receiver), log_level="warning", access_log=False)
    )
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        return await phases(args, workdir, children, receiver)
    finally:
        server.should_exit = True
        await serving
        sock.close()


async def phases(
    args: argparse.Namespace, workdir: Path, children: dict[str, Child], receiver: Receiver
) -> Report:
    """Both phases on one stack, the receiver on its allowed hosts."""
    temporal_port, ui_port, api_port = free_ports(3)
    address = f"{HOST}:{temporal_port}"
    command = dev_server_command(
        binary=temporal_binary(),
        db_file=workdir / "temporal.db",
        port=temporal_port,
        ui_port=ui_port,
        ip=HOST,
    )
    start_child(children, Child(TEMPORAL, command, log_path=workdir / "temporal.log"))
    client = await connect_temporal(address, children[TEMPORAL])
    database = workdir / "ticketflow.db"
    tokens = await prepare_database(
        f"sqlite:///{database}", {**USERS, SUBSCRIBER: ("integrations", "system")}
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("TICKETFLOW_")} | {
        "TICKETFLOW_DATABASE_URL": f"sqlite:///{database}",
        "TICKETFLOW_TEMPORAL_ADDRESS": address,
        "TICKETFLOW_TASK_QUEUE": TICKET_QUEUE,
        "TICKETFLOW_HTTP_ALLOWED_HOSTS": f"{HOST}:{receiver.port}",
        "PYTHONUNBUFFERED": "1",
    }
    python = sys.executable
    for name, argv in (
        (TICKET_WORKER, [python, "-m", "ticketflow", "worker"]),
        (API, [python, "-m", "ticketflow", "api", "--port", str(api_port)]),
    ):
        start_child(children, Child(name, argv, env, log_path=workdir / f"{name.split()[-1]}.log"))

    stack = Stack(
        address=address, client=client, api_url=f"http://{HOST}:{api_port}", tokens=tokens
    )
    async with api_client(stack, args.concurrency) as http:
        await patient_start(http, children)
        api = Api(http=http, tokens=tokens)
        await api.post({}, "publish", OWNER, "/definitions", DEFINITION)
        note(f"warm-up: {WARM_UP} tickets")
        await guarded(children, run_tickets(api, WARM_UP, args.concurrency, 0))
        note(f"baseline: {args.tickets} tickets, no subscription")
        baseline, _ = await guarded(
            children, run_tickets(api, args.tickets, args.concurrency, WARM_UP)
        )
        for index in range(SUBSCRIPTIONS):
            await api.post(
                {},
                "subscribe",
                SUBSCRIBER,
                "/subscriptions",
                {"url": receiver.url(f"s{index}"), "secret": SECRET},
            )
        note(f"with {SUBSCRIPTIONS} subscriptions: {args.tickets} tickets")
        started = time.perf_counter()
        subscribed, keys = await guarded(
            children, run_tickets(api, args.tickets, args.concurrency, WARM_UP + args.tickets)
        )
        expected = SUBSCRIPTIONS * outbox_count(database, keys)
        prefix = tuple(f"{key}-" for key in keys)

        def delivered() -> int:
            return sum(
                1 for (_, event), _n in receiver.arrivals.items() if event.startswith(prefix)
            )

        deadline = time.monotonic() + DRAIN_TIMEOUT
        while delivered() < expected:
            if time.monotonic() > deadline:
                raise BenchError(f"{delivered()} of {expected} deliveries arrived")
            await guarded(children, asyncio.sleep(0.2))
    return Report(
        baseline=baseline,
        with_subscriptions=subscribed,
        deliveries=expected,
        delivery_seconds=receiver.last - started,
        lags=receiver.lags,
        duplicates=sum(n - 1 for n in receiver.arrivals.values()),
        forged=receiver.forged,
    )


def report(result: Report) -> None:
    """Print the figures."""
    lags = sorted(result.lags)
    print(f"tickets/s without subscriptions:   {result.baseline:8.1f}")
    print(f"tickets/s with {SUBSCRIPTIONS} subscriptions:    {result.with_subscriptions:8.1f}")
    print(f"ratio (with / without):            {result.with_subscriptions / result.baseline:8.2f}")
    print(f"deliveries:                        {result.deliveries:8d}")
    print(f"deliveries/s:                      {result.deliveries / result.delivery_seconds:8.1f}")
    print(
        "lag transition -> receipt:         "
        f"p50 {percentile(lags, 50) * 1000:.0f} ms, p99 {percentile(lags, 99) * 1000:.0f} ms,"
        f" max {lags[-1] * 1000:.0f} ms"
    )
    print(f"deliveries received twice or more: {result.duplicates:8d}")
    print(f"deliveries with a bad signature:   {result.forged:8d}")


def main() -> None:
    """Parse the arguments and run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=100, help="tickets per phase")
    parser.add_argument("--concurrency", type=int, default=8, help="tickets in flight")
    args = parser.parse_args()
    exit_now(run_stack(partial(bench, args), report))


if __name__ == "__main__":
    main()
