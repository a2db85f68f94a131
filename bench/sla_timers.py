"""How late SLA rungs fire, against plain workflow timers, on one embedded dev server.

One run starts the Temporal dev server the way `ticketflow dev` does (the `temporal` binary next
to this Python, state in a SQLite file in a temp dir, WAL, synchronous=normal, free ports) and
measures two phases on it, one after the other, with the same schedule:

* Bare baseline: N workflows defined here, each sleeping (`workflow.sleep`) until three
  instants at 25 %, 50 % and 100 % of the target after its start and noting how late each
  wake-up came (`workflow.now()` minus the instant). Its worker is a separate process (this
  script with --serve-bare-worker).
* Ticketflow: N open tickets whose joint SLA clock (24x7 calendar, the same target) has a
  three-rung ladder at 25 %, 50 % and 100 %, each rung notifying a group, so every firing is a
  projected `sla_rung_fired` event plus a notification activity. The worker is
  `python -m ticketflow worker` in its own process on a migrated SQLite app database. Tickets
  are started straight through the Temporal client (the API is measured by throughput.py).
  Lateness is the event's time (`workflow.now()` of the task that fired it) minus the rung's
  computed instant (`due_at`), read back from the `sla_events` table.

Printed per phase: p50/p95/p99/max lateness, how many timers fired, the worker process's peak
resident memory (VmHWM from /proc), the load average, and the ratio of the p99s.

Run from the repository root:

    .venv/bin/python bench/sla_timers.py [--tickets 1000] [--target 60] [--spread 0]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from temporalio import workflow
from temporalio.client import Client
from temporalio.worker import Worker

with workflow.unsafe.imports_passed_through():
    from harness import connect_temporal, free_ports
    from sqlalchemy import func, select

    from domain.definitions import ProcessDefinition
    from domain.messages import StartTicketInput
    from domain.ticket import Actor
    from store.db import make_async_engine, make_sessionmaker
    from store.migrate import upgrade_database
    from store.models import NotificationRow, SlaEventRow
    from ticketflow.devstack import Child
    from ticketflow.temporal_server import dev_server_command, temporal_binary
    from workflows.ticket import TicketWorkflow

HOST = "127.0.0.1"
TICKET_QUEUE = "bench-sla"
BARE_QUEUE = "bench-sla-bare"
FRACTIONS = (0.25, 0.5, 1.0)


@dataclass
class BarePlan:
    """When the baseline wakes up: offsets after its start, in seconds."""

    offsets: list[float]


@workflow.defn(name="BenchSleepWorkflow")
class SleepWorkflow:
    """The baseline: sleeps until each instant and notes how late it woke."""

    @workflow.run
    async def run(self, plan: BarePlan) -> list[float]:
        """Return the lateness of each wake-up in seconds."""
        start = workflow.now()
        late = []
        for offset in plan.offsets:
            due = start + timedelta(seconds=offset)
            await workflow.sleep(max(due - workflow.now(), timedelta(0)))
            late.append((workflow.now() - due).total_seconds())
        return late


async def serve_bare_worker(address: str, cached_workflows: int = 1000) -> None:
    """Run the baseline's worker until SIGINT/SIGTERM."""
    client = await Client.connect(address)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with Worker(
        client,
        task_queue=BARE_QUEUE,
        workflows=[SleepWorkflow],
        max_cached_workflows=cached_workflows,
    ):
        await stop.wait()


def definition(target: float) -> ProcessDefinition:
    """One stage nobody works on; the joint clock's ladder notifies at 25/50/100 %."""
    return ProcessDefinition.model_validate(
        {
            "key": "bench-sla",
            "version": 1,
            "title": "SLA timer bench",
            "key_prefix": "SLA",
            "department": "bench-desk",
            "intake_form": {"type": "object"},
            "stages": [{"key": "work", "title": "Work", "group": "bench-desk"}],
            "sla": {
                "target": target,
                "ladder": [
                    {
                        "name": f"{int(f * 100)}%",
                        "at_fraction": f,
                        "actions": [{"type": "notify", "recipients": ["group:bench-desk"]}],
                    }
                    for f in FRACTIONS
                ],
            },
        }
    )


def peak_rss_mib(pid: int) -> float:
    """A process's peak resident set size (VmHWM), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], q: float) -> float:
    """The q-quantile (nearest rank) of values."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


async def in_lanes(count: int, lanes: int, one: Callable[[int], Awaitable[Any]]) -> list[Any]:
    """Run one(i) for i < count with at most `lanes` in flight."""
    results: list[Any] = [None] * count
    queue = iter(range(count))

    async def lane() -> None:
        for i in queue:
            results[i] = await one(i)

    await asyncio.gather(*(lane() for _ in range(lanes)))
    return results


async def on_schedule(began: float, i: int, args: argparse.Namespace) -> None:
    """Wait until workflow i's start time: N starts spread evenly over --spread seconds."""
    delay = began + i * args.spread / args.tickets - time.perf_counter()
    if delay > 0:
        await asyncio.sleep(delay)


@dataclass
class Phase:
    """One side's result."""

    name: str
    lateness: list[float]
    expected: int
    peak_mib: float
    cpu: dict[str, float]
    start_seconds: float
    load: tuple[float, float, float]


def cpu_of(children: dict[str, Child]) -> dict[str, float]:
    """CPU seconds used so far by each running child."""
    return {
        name: cpu_seconds(c.process.pid)
        for name, c in children.items()
        if c.process is not None and c.exit_code() is None
    }


def cpu_delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """CPU seconds each child used between two snapshots."""
    return {name: after[name] - before.get(name, 0.0) for name in after}


async def run_bare(
    client: Client, args: argparse.Namespace, worker: Child, children: dict[str, Child]
) -> Phase:
    """N sleeping workflows on the bare worker."""
    offsets = [args.target * f for f in FRACTIONS]
    cpu_before = cpu_of(children)
    began = time.perf_counter()

    async def start(i: int) -> Any:
        await on_schedule(began, i, args)
        return await client.start_workflow(
            SleepWorkflow.run, BarePlan(offsets=offsets), id=f"bare-{i}", task_queue=BARE_QUEUE
        )

    handles = await in_lanes(args.tickets, args.concurrency, start)
    started = time.perf_counter() - began
    results = await in_lanes(args.tickets, args.concurrency, lambda i: handles[i].result())
    assert worker.process is not None
    return Phase(
        name="bare workflow.sleep",
        lateness=[x for r in results for x in r],
        expected=args.tickets * len(FRACTIONS),
        peak_mib=peak_rss_mib(worker.process.pid),
        cpu=cpu_delta(cpu_before, cpu_of(children)),
        start_seconds=started,
        load=os.getloadavg(),
    )


async def run_tickets(
    client: Client,
    args: argparse.Namespace,
    worker: Child,
    database_url: str,
    children: dict[str, Child],
) -> Phase:
    """N open tickets whose ladders fire; lateness read back from sla_events."""
    d = definition(args.target)
    requester = Actor(user="rita", department="sales", role="requester")
    cpu_before = cpu_of(children)
    began = time.perf_counter()

    async def start(i: int) -> Any:
        await on_schedule(began, i, args)
        key = f"SLA-{i:06d}"
        return await client.start_workflow(
            TicketWorkflow.run,
            StartTicketInput(key=key, definition=d, intake={"title": key}, requester=requester),
            id=key,
            task_queue=TICKET_QUEUE,
        )

    await in_lanes(args.tickets, args.concurrency, start)
    started = time.perf_counter() - began
    expected = args.tickets * len(FRACTIONS)
    engine = make_async_engine(database_url)
    sessions = make_sessionmaker(engine)
    deadline = time.monotonic() + args.target * 3 + 120
    try:
        while True:
            async with sessions() as session:
                fired = await session.scalar(
                    select(func.count())
                    .select_from(SlaEventRow)
                    .where(SlaEventRow.type == "sla_rung_fired")
                )
                notes = await session.scalar(select(func.count()).select_from(NotificationRow))
            if (fired or 0) >= expected and (notes or 0) >= expected:
                break
            if time.monotonic() > deadline:
                print(f"  gave up waiting: {fired} of {expected} rungs, {notes} notifications")
                break
            await asyncio.sleep(1)
        async with sessions() as session:
            rows = (
                await session.scalars(
                    select(SlaEventRow).where(SlaEventRow.type == "sla_rung_fired")
                )
            ).all()
    finally:
        await engine.dispose()
    assert worker.process is not None
    return Phase(
        name="Ticketflow SLA rungs",
        lateness=[(r.at - r.due_at).total_seconds() for r in rows if r.due_at is not None],
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
    print(f"  timers fired          {len(late)} of {phase.expected}")
    if late:
        print(
            "  lateness p50/p95/p99/max  "
            + " / ".join(f"{percentile(late, q) * 1000:.0f} ms" for q in (0.5, 0.95, 0.99, 1.0))
        )
    print(f"  starting all N took   {phase.start_seconds:.1f} s")
    print(f"  worker peak RSS       {phase.peak_mib:.0f} MiB")
    per_timer = {k: v / max(len(late), 1) * 1000 for k, v in phase.cpu.items()}
    print(
        "  CPU ms per timer      "
        + ", ".join(f"{name} {ms:.1f}" for name, ms in per_timer.items() if ms >= 0.05)
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
    env = {
        **os.environ,
        "TICKETFLOW_DATABASE_URL": database_url,
        "TICKETFLOW_TEMPORAL_ADDRESS": address,
        "TICKETFLOW_TASK_QUEUE": TICKET_QUEUE,
        "TICKETFLOW_DATA_DIR": str(workdir),
    }
    python = sys.executable
    bare = Child(
        "bare worker",
        [python, __file__, "--serve-bare-worker", address],
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
        f"{args.tickets} workflows per side, target {args.target:g} s (rungs at "
        f"{', '.join(f'{f:.0%}' for f in FRACTIONS)}), started over {args.spread:g} s, "
        f"{args.concurrency} starts in flight; "
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
        measured = await run_tickets(client, args, tickets, database_url, children)
        report(measured)
        if baseline.lateness and measured.lateness:
            ratio = percentile(measured.lateness, 0.99) / max(
                percentile(baseline.lateness, 0.99), 1e-3
            )
            print(f"p99 lateness, Ticketflow / bare: {ratio:.2f}")
    finally:
        for child in reversed(children.values()):
            child.stop(15)


def main() -> None:
    """Parse arguments and run the bench (or serve the bare worker)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tickets", type=int, default=1000)
    parser.add_argument("--target", type=float, default=60.0, help="SLA target, seconds")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument(
        "--spread",
        type=float,
        default=0.0,
        help="start the N workflows evenly over this many seconds (default 0: at once)",
    )
    parser.add_argument("--serve-bare-worker", metavar="ADDRESS")
    args = parser.parse_args()
    if args.serve_bare_worker:
        asyncio.run(serve_bare_worker(args.serve_bare_worker))
        return
    with tempfile.TemporaryDirectory(prefix="tf-sla-bench-") as scratch:
        asyncio.run(bench(args, Path(scratch)))


if __name__ == "__main__":
    main()
