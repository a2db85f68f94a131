"""Closed tickets entering care, against plain workflow timers, on one embedded dev server.

The dev server runs in real time, as `ticketflow dev` starts it (the `temporal` binary next to
this Python, state in a SQLite file, WAL): lateness is only meaningful where timers wait on a
real clock. On the time-skipping test server a timer fires when the clock is moved, so how
late it came would measure the test server, not Temporal's timers; that server is for the
30-day tests. Two phases with the same schedule, one after the other:

* Bare baseline: N workflows defined here (bench/sla_timers.py's `BenchSleepWorkflow`), each
  sleeping (`workflow.sleep`) until two instants after its start and noting how late each
  wake-up came. Its worker is a separate process.
* Ticketflow: N tickets of a definition that opts into care, each closing by itself (one
  `ticket.set_fields` stage, no confirmation window), so each TicketWorkflow starts its
  CareWorkflow at close, which plans two actions (`survey` and `coupon`) at the same two delays
  after close and runs each through the care connector (consent read from the ledger; no
  channel configured, so each is recorded). The worker is `python -m ticketflow worker` in its
  own process on a migrated SQLite app database. Lateness is the step's time (`workflow.now()`
  when the action's outcome was recorded) minus its due time, read back from `care_records`.

Printed per phase: p50/p95/p99/max lateness, how many actions ran, the worker's peak resident
memory (VmHWM), CPU per action, the load average, and the ratio of the p99s.

Run from the repository root (the default is 500 tickets, a few minutes here; `--tickets 10000`
for the full run):

    .venv/bin/python bench/care.py [--tickets 500] [--first 30] [--second 60] [--spread 0]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from harness import byte_compile, connect_temporal, free_ports
    from sla_timers import (
        BARE_QUEUE,
        HOST,
        BarePlan,
        Phase,
        SleepWorkflow,
        cpu_delta,
        cpu_of,
        in_lanes,
        on_schedule,
        peak_rss_mib,
        percentile,
        serve_bare_worker,
    )
    from sqlalchemy import func, select
    from temporalio.client import WorkflowHandle
    from temporalio.exceptions import WorkflowAlreadyStartedError
    from temporalio.service import RPCError, RPCStatusCode
    from tenacity import AsyncRetrying, retry_if_exception, stop_after_delay, wait_exponential

    from domain.care import CareSettings, CareStrategy
    from domain.customers import ConsentGrant, Customer
    from domain.definitions import ProcessDefinition
    from domain.messages import StartTicketInput
    from domain.ticket import Actor
    from store import customers as customers_store
    from store.db import make_async_engine, make_sessionmaker
    from store.migrate import upgrade_database
    from store.models import CareRecordRow
    from ticketflow.devstack import Child
    from ticketflow.temporal_server import dev_server_command, temporal_binary
    from workflows.ticket import TicketWorkflow

TICKET_QUEUE = "bench-care"
CUSTOMERS = 100
# The dev server on SQLite, saturated, now and then answers a start with "namespace not
# found" or "unavailable" while its caches reload; one such answer must not end a long run.
TRANSIENT = {RPCStatusCode.NOT_FOUND, RPCStatusCode.UNAVAILABLE, RPCStatusCode.RESOURCE_EXHAUSTED}


def _transient(error: BaseException) -> bool:
    return isinstance(error, RPCError) and error.status in TRANSIENT


class Starter:
    """Starts workflows, retrying the server's transient refusals for up to a minute, and
    counts those retries so the report shows them."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.retried = 0

    async def start(self, run: Any, arg: Any, *, id: str, task_queue: str) -> Any:
        """Start one workflow; one already started by an earlier attempt counts as started."""
        async for attempt in AsyncRetrying(
            retry=retry_if_exception(_transient),
            wait=wait_exponential(multiplier=0.2, max=5),
            stop=stop_after_delay(60),
            reraise=True,
        ):
            with attempt:
                if attempt.retry_state.attempt_number > 1:
                    self.retried += 1
                try:
                    return await self._client.start_workflow(run, arg, id=id, task_queue=task_queue)
                except WorkflowAlreadyStartedError:
                    handle: WorkflowHandle[Any, Any] = self._client.get_workflow_handle(id)
                    return handle
        raise AssertionError("unreachable: the last attempt re-raises")


def definition(first: float, second: float) -> ProcessDefinition:
    """One automated stage, no confirmation window; care with two actions at the delays."""
    strategy = CareStrategy.model_validate(
        {
            "key": "bench-care",
            "version": 1,
            "rules": [
                {
                    "name": "everyone",
                    "actions": [
                        {"action": "survey", "delay": timedelta(seconds=first)},
                        {"action": "coupon", "delay": timedelta(seconds=second)},
                    ],
                }
            ],
        }
    )
    return ProcessDefinition.model_validate(
        {
            "key": "bench-care",
            "version": 1,
            "title": "Care bench",
            "key_prefix": "CARE",
            "department": "bench-desk",
            "intake_form": {
                "type": "object",
                "properties": {"title": {"type": "string"}, "customer_id": {"type": "string"}},
            },
            "stages": [
                {
                    "key": "note",
                    "title": "Note",
                    "group": "bench-desk",
                    "kind": "service",
                    "service": {
                        "action": "ticket.set_fields",
                        "params": {"fields": {"noted": "true"}},
                    },
                }
            ],
            "confirmation": {"timeout_hours": 0},
            "care": CareSettings(strategy="bench-care", version=1, snapshot=strategy),
        }
    )


async def seed_customers(database_url: str) -> None:
    """Customers who consent to care messages, so every action goes through the connector."""
    engine = make_async_engine(database_url)
    sessions = make_sessionmaker(engine)
    now = datetime.now(UTC)
    try:
        async with sessions() as session, session.begin():
            for i in range(CUSTOMERS):
                cid = f"C-{i:03d}"
                await customers_store.insert_customer(
                    session=session,
                    customer=Customer(id=cid, name=f"Customer {i}", tier="standard"),
                    created_by="bench",
                    now=now,
                )
                await customers_store.insert_consent(
                    session=session,
                    customer_id=cid,
                    grant=ConsentGrant(purpose="care_messages", channel="app", text="Tips?"),
                    given_at=now - timedelta(minutes=1),
                    recorded_by="bench",
                    token_sha256=f"{i:064x}",
                    now=now,
                )
    finally:
        await engine.dispose()


async def run_bare(
    client: Any, args: argparse.Namespace, worker: Child, children: dict[str, Child]
) -> Phase:
    """N sleeping workflows on the bare worker, waking at the two delays."""
    cpu_before = cpu_of(children)
    began = time.perf_counter()
    starter = Starter(client)

    async def start(i: int) -> Any:
        await on_schedule(began, i, args)
        return await starter.start(
            SleepWorkflow.run,
            BarePlan(offsets=[args.first, args.second]),
            id=f"bare-{i}",
            task_queue=BARE_QUEUE,
        )

    handles = await in_lanes(args.tickets, args.concurrency, start)
    started = time.perf_counter() - began
    print(f"  starts the server refused for a moment and retried: {starter.retried}")
    results = await in_lanes(args.tickets, args.concurrency, lambda i: handles[i].result())
    assert worker.process is not None
    return Phase(
        name="bare workflow.sleep",
        lateness=[x for r in results for x in r],
        expected=args.tickets * 2,
        peak_mib=peak_rss_mib(worker.process.pid),
        cpu=cpu_delta(cpu_before, cpu_of(children)),
        start_seconds=started,
        load=os.getloadavg(),
    )


async def run_care(
    client: Any,
    args: argparse.Namespace,
    worker: Child,
    database_url: str,
    children: dict[str, Child],
) -> Phase:
    """N tickets that close by themselves and enter care; lateness from care_records."""
    d = definition(args.first, args.second)
    requester = Actor(user="rita", department="sales", role="requester")
    cpu_before = cpu_of(children)
    began = time.perf_counter()
    starter = Starter(client)

    async def start(i: int) -> Any:
        await on_schedule(began, i, args)
        key = f"CARE-{i:06d}"
        intake = {"title": key, "customer_id": f"C-{i % CUSTOMERS:03d}"}
        return await starter.start(
            TicketWorkflow.run,
            StartTicketInput(key=key, definition=d, intake=intake, requester=requester),
            id=key,
            task_queue=TICKET_QUEUE,
        )

    await in_lanes(args.tickets, args.concurrency, start)
    started = time.perf_counter() - began
    print(f"  starts the server refused for a moment and retried: {starter.retried}")
    expected = args.tickets * 2
    engine = make_async_engine(database_url)
    sessions = make_sessionmaker(engine)
    done = CareRecordRow.data["outcome"].as_string().in_(["recorded", "sent"])
    deadline = time.monotonic() + args.wait
    try:
        while True:
            async with sessions() as session:
                count = await session.scalar(
                    select(func.count()).select_from(CareRecordRow).where(done)
                )
            if (count or 0) >= expected:
                break
            if time.monotonic() > deadline:
                print(f"  gave up waiting: {count} of {expected} actions")
                break
            await asyncio.sleep(1)
        async with sessions() as session:
            rows = (await session.scalars(select(CareRecordRow).where(done))).all()
    finally:
        await engine.dispose()
    assert worker.process is not None
    return Phase(
        name="Ticketflow care actions",
        lateness=[(r.at - datetime.fromisoformat(r.data["due_at"])).total_seconds() for r in rows],
        expected=expected,
        peak_mib=peak_rss_mib(worker.process.pid),
        cpu=cpu_delta(cpu_before, cpu_of(children)),
        start_seconds=started,
        load=os.getloadavg(),
    )


def report(phase: Phase) -> None:
    """Print one phase."""
    late = phase.lateness
    print(f"{phase.name}:")
    print(f"  actions run           {len(late)} of {phase.expected}")
    if late:
        print(
            "  lateness p50/p95/p99/max  "
            + " / ".join(f"{percentile(late, q) * 1000:.0f} ms" for q in (0.5, 0.95, 0.99, 1.0))
        )
    print(f"  starting all N took   {phase.start_seconds:.1f} s")
    print(f"  worker peak RSS       {phase.peak_mib:.0f} MiB")
    per_action = {k: v / max(len(late), 1) * 1000 for k, v in phase.cpu.items()}
    print(
        "  CPU ms per action     "
        + ", ".join(f"{name} {ms:.1f}" for name, ms in per_action.items() if ms >= 0.05)
    )
    print(f"  load average after    {' '.join(f'{x:.2f}' for x in phase.load)}")


async def bench(args: argparse.Namespace, workdir: Path) -> None:
    """Start the stack and run both phases."""
    port, ui_port = free_ports(2)
    address = f"{HOST}:{port}"
    server = Child(
        "temporal",
        dev_server_command(
            binary=temporal_binary(), db_file=workdir / "temporal.db", port=port, ui_port=ui_port
        ),
        log_path=workdir / "temporal.log",
    )
    database_url = f"sqlite:///{workdir / 'ticketflow.db'}"
    upgrade_database(url=database_url)
    await seed_customers(database_url)
    env = {
        **os.environ,
        "TICKETFLOW_DATABASE_URL": database_url,
        "TICKETFLOW_TEMPORAL_ADDRESS": address,
        "TICKETFLOW_TASK_QUEUE": TICKET_QUEUE,
        "TICKETFLOW_DATA_DIR": str(workdir),
    }
    env.pop("TICKETFLOW_CARE_WEBHOOK_URL", None)
    # Both workers keep the same number of workflows cached.
    cached = str(args.cached_workflows)
    env["TICKETFLOW_WORKER_MAX_CACHED_WORKFLOWS"] = cached
    python = sys.executable
    bare = Child(
        "bare worker",
        [python, __file__, "--serve-bare-worker", address, "--cached-workflows", cached],
        env=env,
        log_path=workdir / "bare.log",
    )
    tickets = Child(
        "ticket worker",
        [python, "-m", "ticketflow", "worker"],
        env=env,
        log_path=workdir / "worker.log",
    )
    children = {c.name: c for c in (server, bare, tickets)}
    print(
        f"{args.tickets} workflows per side, actions {args.first:g} s and {args.second:g} s after "
        f"close (the bare side: after start), started over {args.spread:g} s, "
        f"{args.concurrency} starts in flight, {args.cached_workflows} workflows cached per "
        f"worker; "
        f"{os.cpu_count()} CPUs, load average before {os.getloadavg()[0]:.2f}"
    )
    try:
        server.start()
        client = await connect_temporal(address, server)
        bare.start()
        tickets.start()
        await asyncio.sleep(3)  # both workers connected and polling
        baseline = await run_bare(client, args, bare, children)
        report(baseline)
        measured = await run_care(client, args, tickets, database_url, children)
        report(measured)
        if baseline.lateness and measured.lateness:
            ratio = percentile(measured.lateness, 0.99) / max(
                percentile(baseline.lateness, 0.99), 1e-3
            )
            p50 = percentile(measured.lateness, 0.5) / max(percentile(baseline.lateness, 0.5), 1e-3)
            print(f"lateness, Ticketflow care / bare: p50 {p50:.2f}, p99 {ratio:.2f}")
    finally:
        for child in reversed(children.values()):
            child.stop(15)


def main() -> None:
    """Parse arguments and run the bench."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tickets", type=int, default=500, help="10000 for the full run")
    parser.add_argument("--first", type=float, default=30.0, help="first action, s after close")
    parser.add_argument("--second", type=float, default=60.0, help="second action, s after close")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument(
        "--spread",
        type=float,
        default=0.0,
        help="start the N workflows evenly over this many seconds (default 0: at once)",
    )
    parser.add_argument(
        "--cached-workflows",
        type=int,
        help="workflows each worker keeps cached (default: room for every care workflow and "
        "recurrence watch of the run, 2N + 1000)",
    )
    parser.add_argument(
        "--wait",
        type=float,
        help="at most this many seconds for the care actions after the last start "
        "(default 3 x --second + 300); those not run by then are counted as not run",
    )
    parser.add_argument("--serve-bare-worker", metavar="ADDRESS")
    args = parser.parse_args()
    if args.cached_workflows is None:
        args.cached_workflows = 2 * args.tickets + 1000
    if args.wait is None:
        args.wait = args.second * 3 + 300
    if args.serve_bare_worker:
        asyncio.run(serve_bare_worker(args.serve_bare_worker, args.cached_workflows))
        return
    # Temporal's sandbox imports a workflow's module afresh for each run: from bytecode, as
    # an install has it, not compiled from source where PYTHONDONTWRITEBYTECODE is set.
    byte_compile()
    with tempfile.TemporaryDirectory(prefix="tf-care-bench-") as scratch:
        asyncio.run(bench(args, Path(scratch)))


if __name__ == "__main__":
    main()
