"""Ticket throughput of Ticketflow against a bare Temporal workflow, on one dev server.

One run starts one embedded Temporal dev server the way `ticketflow dev` does (the `temporal`
binary next to this Python, its state in a SQLite file in a temp dir, WAL, synchronous=normal)
and measures two sides on it:

* Ticketflow: N tickets of a two-stage definition (stage a, then stage b, both for one
  department, no required form fields, a 24 h confirmation window) driven to closed through
  the real HTTP API: the API runs as a uvicorn process (`python -m ticketflow api`), the worker
  as another (`python -m ticketflow worker`), both on a migrated SQLite app database in the temp
  dir. Per ticket: POST /tickets (requester), claim + complete stage a, claim + complete stage b
  (agent), POST /tickets/{key}/confirm (requester), with C tickets in flight over httpx.
* Bare baseline: a workflow defined here that calls a no-op activity as many times as a
  ticket's life calls the projection activity (counted from the warm-up tickets' histories,
  ActivityTaskScheduled events), started by a plain Temporal client that waits for each result,
  C in flight. Its worker is a separate process too (this script with --serve-bare-worker).

Order: warm-up (Ticketflow, then bare; not counted), then R rounds that alternate bare and
Ticketflow, N/R tickets each. Printed: tickets/s of both and their ratio, per-ticket end-to-end
p50/p95 of both, Ticketflow's per-request latencies (create, claim, complete, confirm), what the
histories show per ticket (activity calls, workflow tasks, events, how long each activity ran),
and the CPU time per ticket of every process involved, read from /proc (Linux).

Run from the repository root:

    .venv/bin/python bench/throughput.py [--tickets N] [--concurrency C] [--rounds R]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import platform
import resource
import shutil
import signal
import socket
import sys
import tempfile
import time
import traceback
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from temporalio import activity, workflow
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.service import RPCError
from temporalio.worker import Worker

# The bare worker re-runs this module in Temporal's sandbox; these must not be re-imported there.
with workflow.unsafe.imports_passed_through():
    import httpx
    import uvloop

    from store.db import make_async_engine, make_sessionmaker
    from store.migrate import upgrade_database
    from store.users import add_user
    from ticketflow.devstack import Child
    from ticketflow.temporal_client import ensure_search_attributes
    from ticketflow.temporal_server import dev_server_command, temporal_binary

T = TypeVar("T")

HOST = "127.0.0.1"
TICKET_QUEUE = "bench-tickets"
BARE_QUEUE = "bench-bare"
STARTUP_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0
HTTP_TIMEOUT = 60.0
ACTIVITY_TIMEOUT = timedelta(seconds=30)
LOCAL_ACTIVITY_MARKER = "core_local_activity"

DEFINITION_KEY = "bench-two-stage"
DEPARTMENT = "bench-desk"
STAGES = ("a", "b")
DEFINITION: dict[str, Any] = {
    "key": DEFINITION_KEY,
    "title": "Throughput bench: two stages",
    "key_prefix": "BENCH",
    "department": DEPARTMENT,
    "intake_form": {"type": "object", "properties": {"title": {"type": "string"}}},
    "stages": [
        {"key": "a", "title": "Stage a", "group": DEPARTMENT},
        {"key": "b", "title": "Stage b", "group": DEPARTMENT, "depends_on": ["a"]},
    ],
    # Far beyond the run, so the requester's confirmation is what closes every ticket.
    "confirmation": {"timeout_hours": 24},
}
OWNER, REQUESTER, AGENT = "owner", "rita", "dana"
USERS = {
    OWNER: ("process-office", "process_owner"),
    REQUESTER: ("sales", "requester"),
    AGENT: (DEPARTMENT, "agent"),
}
REQUEST_KINDS = ("create", "claim", "complete", "confirm")

TEMPORAL, API, TICKET_WORKER, BARE_WORKER, DRIVER = (
    "temporal server",
    "Ticketflow API",
    "Ticketflow worker",
    "bare worker",
    "bench driver (this)",
)


class BenchError(Exception):
    """The bench cannot go on; the message says why."""


# -- the bare baseline ------------------------------------------------------------------------


@activity.defn(name="bench_noop")
async def noop() -> None:
    """Do nothing: the baseline's stand-in for a projection write."""


@dataclass
class BarePlan:
    """How many no-op activities the baseline calls, and whether as local activities."""

    calls: int
    local: bool


@workflow.defn(name="BenchBareWorkflow")
class BareWorkflow:
    """The baseline ticket: a number of no-op activities in a row, nothing else."""

    @workflow.run
    async def run(self, plan: BarePlan) -> int:
        """Call the no-op activity `plan.calls` times, one after the other."""
        for _ in range(plan.calls):
            if plan.local:
                await workflow.execute_local_activity(noop, start_to_close_timeout=ACTIVITY_TIMEOUT)
            else:
                await workflow.execute_activity(noop, start_to_close_timeout=ACTIVITY_TIMEOUT)
        return plan.calls


async def serve_bare_worker(address: str, task_queue: str) -> None:
    """Run the baseline's worker (default settings, like Ticketflow's) until SIGINT/SIGTERM."""
    client = await Client.connect(address)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with Worker(client, task_queue=task_queue, workflows=[BareWorkflow], activities=[noop]):
        await stop.wait()


# -- measuring --------------------------------------------------------------------------------


@dataclass
class Side:
    """One side's measured rounds: wall time, per-ticket times, request latencies, CPU."""

    wall: float = 0.0
    round_rates: list[float] = field(default_factory=list)
    end_to_end: list[float] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    requests: dict[str, list[float]] = field(default_factory=dict)
    cpu: dict[str, float] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        """Tickets per second over all measured rounds."""
        return len(self.end_to_end) / self.wall


@dataclass
class Histories:
    """What a set of completed workflows' histories show."""

    activity_calls: set[int] = field(default_factory=set)
    local_calls: set[int] = field(default_factory=set)
    events: set[int] = field(default_factory=set)
    workflow_tasks: set[int] = field(default_factory=set)
    activity_run: list[float] = field(default_factory=list)


@dataclass
class Report:
    """Everything the run prints."""

    sides: dict[str, Side]
    histories: dict[str, Histories]
    load_before: tuple[float, float, float]


def percentile(values: list[float], q: float) -> float:
    """The nearest-rank q-th percentile."""
    ordered = sorted(values)
    return ordered[max(math.ceil(q / 100 * len(ordered)), 1) - 1]


def note(message: str) -> None:
    """Progress on stderr, so stdout carries only the report."""
    sys.stderr.write(f"[bench {time.strftime('%H:%M:%S')}] {message}\n")
    sys.stderr.flush()


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system, all threads) a child process has used so far."""
    # Fields after the parenthesised command name; utime and stime are the 14th and 15th.
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_snapshot(children: dict[str, Child]) -> dict[str, float]:
    """CPU seconds used so far by every child process and by this one."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    snapshot = {DRIVER: usage.ru_utime + usage.ru_stime}
    for name, child in children.items():
        assert child.process is not None
        snapshot[name] = process_cpu(child.process.pid)
    return snapshot


def check_alive(children: Iterable[Child]) -> None:
    """Raise BenchError naming the first child process that has exited."""
    for child in children:
        code = child.exit_code()
        if code is not None:
            raise BenchError(f"{child.name} exited with code {code}")


async def guarded(children: dict[str, Child], work: Awaitable[T]) -> T:
    """Await `work`, failing fast (instead of hanging) if a child process dies meanwhile."""
    task = asyncio.ensure_future(work)
    try:
        while not task.done():
            check_alive(children.values())
            await asyncio.wait({task}, timeout=0.5)
        return task.result()
    finally:
        task.cancel()  # a no-op once done; otherwise nothing may outlive a failure or Ctrl-C


async def in_lanes(count: int, lanes: int, one: Callable[[int], Awaitable[T]]) -> list[T]:
    """Run one(0) .. one(count - 1) with at most `lanes` in flight; results in index order."""
    results: dict[int, T] = {}
    indexes = iter(range(count))

    async def lane() -> None:
        for index in indexes:
            results[index] = await one(index)

    await asyncio.gather(*(lane() for _ in range(min(lanes, count))))
    return [results[i] for i in range(count)]


async def measure(
    side: Side,
    children: dict[str, Child],
    count: int,
    lanes: int,
    one: Callable[[int], Awaitable[tuple[float, str]]],
) -> None:
    """Run one round of `count` tickets and add its times and CPU to `side`."""
    before = cpu_snapshot(children)
    start = time.perf_counter()
    results = await guarded(children, in_lanes(count, lanes, one))
    wall = time.perf_counter() - start
    after = cpu_snapshot(children)
    side.wall += wall
    side.round_rates.append(count / wall)
    side.end_to_end += [seconds for seconds, _id in results]
    side.ids += [workflow_id for _seconds, workflow_id in results]
    for name, used in after.items():
        side.cpu[name] = side.cpu.get(name, 0.0) + used - before[name]


async def read_history(client: Client, workflow_id: str, into: Histories) -> None:
    """Wait for a workflow to complete, then add what its history shows to `into`."""
    handle = client.get_workflow_handle(workflow_id)
    await handle.result()
    history = await handle.fetch_history()
    calls = local = tasks = 0
    started: dict[int, float] = {}
    for event in history.events:
        at = event.event_time.ToNanoseconds() / 1e9
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            calls += 1
        elif (
            event.event_type == EventType.EVENT_TYPE_MARKER_RECORDED
            and event.marker_recorded_event_attributes.marker_name == LOCAL_ACTIVITY_MARKER
        ):
            calls += 1
            local += 1
        elif event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
            tasks += 1
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            started[event.event_id] = at
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
            attributes = event.activity_task_completed_event_attributes
            into.activity_run.append(at - started[attributes.started_event_id])
    into.activity_calls.add(calls)
    into.local_calls.add(local)
    into.events.add(len(history.events))
    into.workflow_tasks.add(tasks)


async def read_histories(client: Client, ids: list[str], lanes: int) -> Histories:
    """What the histories of these workflows show, read `lanes` at a time."""
    histories = Histories()
    await in_lanes(len(ids), lanes, lambda i: read_history(client, ids[i], histories))
    return histories


# -- Ticketflow over HTTP ---------------------------------------------------------------------


@dataclass
class Api:
    """An HTTP client on the API process, with a bearer token per bench user."""

    http: httpx.AsyncClient
    tokens: dict[str, str]

    async def post(
        self,
        latencies: dict[str, list[float]],
        kind: str,
        user: str,
        path: str,
        body: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """POST as `user`, record the latency under `kind`, and return the JSON answer."""
        start = time.perf_counter()
        try:
            response = await self.http.post(
                path, json=body, headers={"Authorization": f"Bearer {self.tokens[user]}"}
            )
        except httpx.TransportError as exc:
            raise BenchError(f"POST {path}: {exc!r}") from exc
        latencies.setdefault(kind, []).append(time.perf_counter() - start)
        if response.status_code not in (200, 201):
            raise BenchError(f"POST {path}: HTTP {response.status_code}: {response.text[:500]}")
        answer: dict[str, Any] = response.json()
        return answer


async def drive_ticket(
    api: Api, latencies: dict[str, list[float]], index: int
) -> tuple[float, str]:
    """Create a ticket, claim and complete both stages, confirm; (seconds, ticket key)."""
    start = time.perf_counter()
    created = await api.post(
        latencies,
        "create",
        REQUESTER,
        "/tickets",
        {"definition": DEFINITION_KEY, "data": {"title": f"bench ticket {index}"}},
    )
    key = created["key"]
    for stage in STAGES:
        await api.post(latencies, "claim", AGENT, f"/tickets/{key}/tasks/{stage}/claim")
        await api.post(
            latencies, "complete", AGENT, f"/tickets/{key}/tasks/{stage}/complete", {"data": {}}
        )
    closed = await api.post(latencies, "confirm", REQUESTER, f"/tickets/{key}/confirm", {})
    if closed["status"] != "closed":
        raise BenchError(f"ticket {key} is {closed['status']} after confirm, not closed")
    return time.perf_counter() - start, key


async def drive_bare(client: Client, plan: BarePlan, prefix: str, index: int) -> tuple[float, str]:
    """Run one baseline workflow to its result; (seconds, workflow id)."""
    workflow_id = f"bare-{prefix}-{index}"
    start = time.perf_counter()
    await client.execute_workflow(BareWorkflow.run, plan, id=workflow_id, task_queue=BARE_QUEUE)
    return time.perf_counter() - start, workflow_id


# -- the stack --------------------------------------------------------------------------------


def free_ports(count: int) -> list[int]:
    """Distinct TCP ports that are free on HOST right now."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind((HOST, 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


async def connect_temporal(address: str, server: Child) -> Client:
    """Wait until the dev server answers, then make sure Ticketflow's search attributes exist."""
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while True:
        check_alive([server])
        try:
            client = await asyncio.wait_for(Client.connect(address), timeout=5)
            await ensure_search_attributes(client)
            return client
        except (RuntimeError, RPCError, TimeoutError):
            if time.monotonic() >= deadline:
                raise BenchError(f"Temporal did not answer on {address}") from None
            await asyncio.sleep(0.25)


async def wait_for_api(http: httpx.AsyncClient, children: dict[str, Child]) -> None:
    """Wait until the API process answers /healthz."""
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while True:
        check_alive(children.values())
        try:
            if (await http.get("/healthz")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() >= deadline:
            raise BenchError("the API did not answer /healthz")
        await asyncio.sleep(0.25)


async def prepare_database(url: str) -> dict[str, str]:
    """Migrate the app database and add the bench users; returns their tokens."""
    upgrade_database(url=url)
    engine = make_async_engine(url)
    tokens = {}
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            for name, (department, role) in USERS.items():
                _row, tokens[name] = await add_user(
                    session=session,
                    name=name,
                    department=department,
                    role=role,
                    now=datetime.now(UTC),
                )
    finally:
        await engine.dispose()
    return tokens


def start_child(children: dict[str, Child], child: Child) -> None:
    """Start a child process and register it for CPU accounting and cleanup."""
    children[child.name] = child
    child.start()


async def run_bench(args: argparse.Namespace, workdir: Path, children: dict[str, Child]) -> Report:
    """Start the stack, warm up, run the alternating rounds and read the histories."""
    load_before = os.getloadavg()
    temporal_port, ui_port, api_port = free_ports(3)
    address = f"{HOST}:{temporal_port}"
    note(f"starting the Temporal dev server on {address} (state in {workdir})")
    command = dev_server_command(
        binary=temporal_binary(),
        db_file=workdir / "temporal.db",
        port=temporal_port,
        ui_port=ui_port,
        ip=HOST,
    )
    start_child(children, Child(TEMPORAL, command, log_path=workdir / "temporal.log"))
    client = await connect_temporal(address, children[TEMPORAL])

    database_url = f"sqlite:///{workdir / 'ticketflow.db'}"
    tokens = await prepare_database(database_url)
    env = {key: value for key, value in os.environ.items() if not key.startswith("TICKETFLOW_")}
    env |= {
        "TICKETFLOW_DATABASE_URL": database_url,
        "TICKETFLOW_TEMPORAL_ADDRESS": address,
        "TICKETFLOW_TASK_QUEUE": TICKET_QUEUE,
        "PYTHONUNBUFFERED": "1",
    }
    python = sys.executable
    # Stopped in reverse: the API first, while the workers can still finish its Updates.
    for name, argv in (
        (TICKET_WORKER, [python, "-m", "ticketflow", "worker"]),
        (BARE_WORKER, [python, __file__, "--serve-bare-worker", address, BARE_QUEUE]),
        (API, [python, "-m", "ticketflow", "api", "--port", str(api_port)]),
    ):
        log_path = workdir / f"{name.lower().replace(' ', '-')}.log"
        start_child(children, Child(name, argv, env, log_path=log_path))

    # Idle connections expire before uvicorn's 5 s keep-alive closes them from its side, so
    # one idle through a bare round is never reused just as the server drops it.
    limits = httpx.Limits(
        max_connections=args.concurrency, max_keepalive_connections=None, keepalive_expiry=2.0
    )
    async with httpx.AsyncClient(
        base_url=f"http://{HOST}:{api_port}", timeout=HTTP_TIMEOUT, limits=limits
    ) as http:
        await wait_for_api(http, children)
        api = Api(http=http, tokens=tokens)
        await api.post({}, "publish", OWNER, "/definitions", DEFINITION)

        note(f"warm-up: {args.warmup} Ticketflow tickets, then {args.warmup} bare workflows")
        warm = await guarded(
            children, in_lanes(args.warmup, args.concurrency, partial(drive_ticket, api, {}))
        )
        calls = (
            await read_histories(client, [key for _s, key in warm], args.concurrency)
        ).activity_calls
        if len(calls) != 1:
            raise BenchError(f"warm-up tickets made different numbers of activity calls: {calls}")
        (per_ticket,) = calls
        note(f"a ticket's life calls the projection activity {per_ticket} times")
        plan = BarePlan(calls=per_ticket, local=args.bare_activities == "local")
        await guarded(
            children,
            in_lanes(args.warmup, args.concurrency, partial(drive_bare, client, plan, "w")),
        )

        sides = {"bare": Side(), "ticketflow": Side()}
        sizes = [
            args.tickets // args.rounds + (r < args.tickets % args.rounds)
            for r in range(args.rounds)
        ]
        for number, size in enumerate(sizes, start=1):
            rounds: tuple[tuple[str, Callable[[int], Awaitable[tuple[float, str]]]], ...] = (
                ("bare", partial(drive_bare, client, plan, f"r{number}")),
                ("ticketflow", partial(drive_ticket, api, sides["ticketflow"].requests)),
            )
            for name, one in rounds:
                side = sides[name]
                await measure(side, children, size, args.concurrency, one)
                rate = side.round_rates[-1]
                note(f"round {number}/{args.rounds}: {name}, {size} tickets, {rate:.2f}/s")

    note("reading the history of every measured workflow")
    histories = {
        name: await read_histories(client, side.ids, args.concurrency)
        for name, side in sides.items()
    }
    return Report(sides=sides, histories=histories, load_before=load_before)


# -- the report -------------------------------------------------------------------------------


def _span(values: set[int]) -> str:
    return str(min(values)) if len(values) == 1 else f"{min(values)}..{max(values)}"


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f}"


def _p50_p95(values: list[float]) -> str:
    if not values:
        return "-"
    return f"{_ms(percentile(values, 50))} / {_ms(percentile(values, 95))}"


def print_report(args: argparse.Namespace, report: Report) -> None:
    """Print the figures as a plain-text table."""
    bare, tickets = report.sides["bare"], report.sides["ticketflow"]
    cores = os.cpu_count()
    usable = len(os.sched_getaffinity(0))
    load = ", ".join(f"{x:.2f}" for x in report.load_before)
    rows: list[tuple[str, str, str]] = [
        ("tickets/s", f"{bare.rate:.2f}", f"{tickets.rate:.2f}"),
        (
            "  per round",
            " ".join(f"{r:.2f}" for r in bare.round_rates),
            " ".join(f"{r:.2f}" for r in tickets.round_rates),
        ),
        (
            "end-to-end p50 (ms)",
            _ms(percentile(bare.end_to_end, 50)),
            _ms(percentile(tickets.end_to_end, 50)),
        ),
        (
            "end-to-end p95 (ms)",
            _ms(percentile(bare.end_to_end, 95)),
            _ms(percentile(tickets.end_to_end, 95)),
        ),
    ]
    bare_history, ticket_history = report.histories["bare"], report.histories["ticketflow"]
    rows += [
        (
            "activity calls / ticket",
            _span(bare_history.activity_calls),
            _span(ticket_history.activity_calls),
        ),
        (
            "  of which local activities",
            _span(bare_history.local_calls),
            _span(ticket_history.local_calls),
        ),
        (
            "workflow tasks / ticket",
            _span(bare_history.workflow_tasks),
            _span(ticket_history.workflow_tasks),
        ),
        ("history events / ticket", _span(bare_history.events), _span(ticket_history.events)),
        (
            "activity run p50 / p95 (ms)",
            _p50_p95(bare_history.activity_run),
            _p50_p95(ticket_history.activity_run),
        ),
    ]
    for kind in REQUEST_KINDS:
        rows.append((f"{kind} p50 / p95 (ms)", "-", _p50_p95(tickets.requests[kind])))
    rows.append(("CPU ms per ticket:", "", ""))
    for name in (TEMPORAL, API, TICKET_WORKER, BARE_WORKER, DRIVER):
        rows.append(
            (
                f"  {name}",
                _ms(bare.cpu[name] / len(bare.end_to_end)),
                _ms(tickets.cpu[name] / len(tickets.end_to_end)),
            )
        )
    rows.append(
        (
            "  cores busy (CPU s / wall s)",
            f"{sum(bare.cpu.values()) / bare.wall:.2f}",
            f"{sum(tickets.cpu.values()) / tickets.wall:.2f}",
        )
    )

    print(f"Ticketflow throughput bench, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print(
        f"machine: {cores} cores ({usable} usable), {platform.machine()}, "
        f"load average before the run {load}; Python {platform.python_version()}"
    )
    print(
        f"arguments: --tickets {args.tickets} --concurrency {args.concurrency} "
        f"--rounds {args.rounds} --warmup {args.warmup} --bare-activities {args.bare_activities}"
    )
    print(
        "order: warm-up (Ticketflow, then bare; not counted), then "
        f"{args.rounds} rounds alternating bare -> Ticketflow"
    )
    print(
        "processes: one Temporal dev server (SQLite, WAL, synchronous=normal); Ticketflow API "
        "(uvicorn, 1 process) and worker as processes; bare worker as a process; drivers "
        "(httpx / Temporal client) in this process"
    )
    print()
    width = max(len(label) for label, _b, _t in rows)
    print(f"{'':{width}}  {'bare Temporal':>14}  {'Ticketflow':>14}")
    for label, bare_cell, ticket_cell in rows:
        print(f"{label:{width}}  {bare_cell:>14}  {ticket_cell:>14}")
    print()
    ratio = tickets.rate / bare.rate
    print(f"throughput ratio Ticketflow / bare: {ratio:.2f}  (aim: >= 0.70)")


# -- entry point ------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tickets", type=int, default=200, help="measured tickets per side")
    parser.add_argument("--concurrency", type=int, default=16, help="tickets in flight")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds per side")
    parser.add_argument("--warmup", type=int, default=10, help="uncounted tickets per side")
    parser.add_argument(
        "--bare-activities",
        choices=["regular", "local"],
        default="regular",
        help="the kind of activity the bare baseline calls (Ticketflow projects with local ones)",
    )
    parser.add_argument("--serve-bare-worker", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if min(args.tickets, args.concurrency, args.rounds, args.warmup) < 1:
        parser.error("every count must be at least 1")
    if args.tickets < args.rounds:
        parser.error("--tickets must be at least --rounds")
    return args


def bench(args: argparse.Namespace) -> int:
    """Run the bench, always stopping the child processes; returns the exit code."""
    workdir = Path(tempfile.mkdtemp(prefix="ticketflow-bench-"))
    children: dict[str, Child] = {}
    # SIGTERM and a closed terminal stop the bench the way Ctrl-C does.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.default_int_handler)
    keep_logs = False
    try:
        report = asyncio.run(run_bench(args, workdir, children))
    except KeyboardInterrupt:
        note("interrupted")
        return 130
    except BenchError as exc:
        note(f"failed: {exc}")
        for child in children.values():
            code = child.exit_code()
            state = "running" if code is None else f"exited with code {code}"
            sys.stderr.write(
                f"{child.name} ({state}); end of {child.log_path}:\n{child.log_tail()}"
            )
        keep_logs = True
        return 1
    except Exception:
        traceback.print_exc()
        keep_logs = True
        return 1
    finally:
        # A second Ctrl-C must not leave children half-stopped; stopping is bounded anyway.
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)
        for child in reversed(children.values()):
            child.stop(STOP_TIMEOUT)
        if keep_logs:
            note(f"logs kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    print_report(args, report)
    return 0


def main() -> None:
    """Run the bench (or, internally, the baseline's worker) and leave through os._exit."""
    args = parse_args()
    if args.serve_bare_worker:
        # The same event loop as `ticketflow worker`, so the loop is not what differs.
        uvloop.run(serve_bare_worker(*args.serve_bare_worker))
        code = 0
    else:
        code = bench(args)
    sys.stdout.flush()
    sys.stderr.flush()
    # The Temporal SDK's runtime can crash the interpreter at exit (PyGILState_Release).
    os._exit(code)


if __name__ == "__main__":
    main()
