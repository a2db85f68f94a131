"""Many open tickets with SLA clocks on one worker, against as many bare sleeping workflows.

Two phases, each on a Temporal dev server of its own (started the way `ticketflow dev` does:
the `temporal` binary next to this Python, state in a SQLite file in a temp dir, WAL,
synchronous=normal), each with ONE worker process whose workflow cache is bounded
(`--cache`, Ticketflow's `TICKETFLOW_WORKER_MAX_CACHED_WORKFLOWS`; the same bound for the
bare worker):

* Ticketflow (first): N tickets of a one-stage definition nobody works on, whose 24x7 SLA
  clock has a rung at 10 % of the target (notifying the desk) and one at 100 %, filed through
  the service layer in this process (`services.ticket_creation.file_ticket`, what
  `POST /tickets` calls after authentication and the field-access checks: the intake
  validated, the duplicate check, the key reserved with its Idempotency-Key record, the
  workflow started) on the same app database and Temporal as the worker (`python -m
  ticketflow worker`) and the API (`python -m ticketflow api`, uvicorn), `--concurrency` at a
  time. The first 200 go through the real HTTP API, so the two paths' rates are compared in
  the run. When each ticket was filed is kept as the schedule.
* Bare baseline (second): a burst of 200 workflows (this script's `BenchOpenWorkflow`) that
  stay asleep for hours, started as fast as a plain Temporal client goes (the bare start
  rate); then N that sleep until 10 % of the target after their start, report how late they
  woke through one activity (which appends it to a file), then sleep for hours: open, like
  the tickets. Workflow i starts when ticket i was filed, so wake-ups come at the rungs' pace.

At each checkpoint (`--levels`, cumulative counts; the last is N) filing pauses and the run
measures: how long the tickets took to start (filed, and until the projection shows every one
open), the worker's resident memory (VmRSS now, VmHWM peak) against its idle figure, and on
the Ticketflow side the latency of `GET /tickets` as an agent of the department (status,
definition, department and assignee filters, and a page deep behind a cursor), against
`GET /healthz` in the same moment. Rungs keep falling due throughout (the first 10 % of the
target after each start); their lateness is read from `sla_events` (`at - due_at`), the
baseline's from its file. At the end, the size of one ticket's workflow input (its first
history event's payload) against the bare workflow's, and how much of it is the definition.

Run from the repository root:

    .venv/bin/python bench/open_tickets.py [--tickets 2000] [--levels 500,2000]
        [--target 600] [--cache 1000] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from temporalio import activity, workflow

# The repo's packages before this folder: its forms.py and triage.py would hide the packages
# the service layer imports (this folder stays on the path for `harness`). The sandbox's
# re-import of this module finds the path already set.
if not workflow.unsafe.in_sandbox():
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from temporalio.client import Client
from temporalio.worker import Worker

with workflow.unsafe.imports_passed_through():
    import httpx
    import uvloop
    from harness import connect_temporal, free_ports, note, percentile, prepare_database
    from sqlalchemy import func, select
    from sqlalchemy.exc import OperationalError

    from domain.definitions import ProcessDefinition
    from domain.problems import Rejected
    from domain.ticket import Actor
    from services.bundled import bundled_definitions
    from services.ticket_creation import file_ticket, load_definition
    from store.db import make_async_engine, make_sessionmaker
    from store.models import SlaEventRow, TicketRow
    from ticketflow.devstack import Child
    from ticketflow.temporal_server import dev_server_command, temporal_binary

HOST = "127.0.0.1"
TICKET_QUEUE = "bench-open"
BARE_QUEUE = "bench-open-bare"
FIRST_RUNG = 0.1
HOLD = timedelta(hours=6)
STARTUP_TIMEOUT = 120.0
DEPARTMENT = "bench-desk"
DEFINITION_KEY = "bench-open"
OWNER, REQUESTER, AGENT = "owner", "rita", "dana"
USERS = {
    OWNER: ("process-office", "process_owner"),
    REQUESTER: ("sales", "requester"),
    AGENT: (DEPARTMENT, "agent"),
}
API_SAMPLE = 200
LIST_SAMPLES = 30
LOCK_RETRIES = 5
BARE_READY = "bare worker polling"


# -- the bare baseline -------------------------------------------------------------------------


@dataclass
class OpenPlan:
    """When the baseline wakes: seconds after its start."""

    wake_after: float


@dataclass
class Woke:
    """How late one baseline workflow woke."""

    workflow_id: str
    late_seconds: float


LATENESS_FILE: Path | None = None


@activity.defn(name="bench_open_woke")
async def record_woke(woke: Woke) -> None:
    """Append one wake-up's lateness to the worker's lateness file."""
    assert LATENESS_FILE is not None
    with LATENESS_FILE.open("a") as out:
        out.write(f"{woke.workflow_id} {woke.late_seconds}\n")


@workflow.defn(name="BenchOpenWorkflow")
class OpenWorkflow:
    """The baseline open ticket: one timed wake-up reported by an activity, then hours open."""

    @workflow.run
    async def run(self, plan: OpenPlan) -> None:
        """Sleep until the wake-up, report its lateness, stay open."""
        due = workflow.now() + timedelta(seconds=plan.wake_after)
        await workflow.sleep(due - workflow.now())
        late = (workflow.now() - due).total_seconds()
        await workflow.execute_activity(
            record_woke,
            Woke(workflow.info().workflow_id, late),
            start_to_close_timeout=timedelta(seconds=30),
        )
        await workflow.sleep(HOLD)


def serve_bare_worker(address: str, cache: int, lateness_file: str) -> None:
    """The baseline's worker, with the same cache bound, until SIGINT/SIGTERM."""
    global LATENESS_FILE
    LATENESS_FILE = Path(lateness_file)

    async def serve() -> None:
        client = await Client.connect(address)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        async with Worker(
            client,
            task_queue=BARE_QUEUE,
            workflows=[OpenWorkflow],
            activities=[record_woke],
            max_cached_workflows=cache,
        ):
            print(BARE_READY, flush=True)
            await stop.wait()

    uvloop.run(serve())


# -- measuring ---------------------------------------------------------------------------------


def proc_status(pid: int) -> dict[str, float]:
    """VmRSS and VmHWM of a process, in MiB."""
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            found[name] = int(rest.split()[0]) / 1024
    return found


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def in_lanes(start: int, stop: int, lanes: int, one: Callable[[int], Awaitable[Any]]) -> None:
    """Run one(i) for start <= i < stop, at most `lanes` at a time."""
    indexes = iter(range(start, stop))

    async def lane() -> None:
        for i in indexes:
            await one(i)

    await asyncio.gather(*(lane() for _ in range(lanes)))


@dataclass
class Checkpoint:
    """What one level shows."""

    count: int
    filed_seconds: float
    open_seconds: float
    rss_mib: float
    hwm_mib: float
    worker_cpu: float
    lists: dict[str, list[float]] = field(default_factory=dict)


@dataclass
class Phase:
    """One side's checkpoints and lateness."""

    name: str
    idle_rss: float
    checkpoints: list[Checkpoint] = field(default_factory=list)
    lateness: list[float] = field(default_factory=list)
    due: int = 0
    api_rate: float | None = None
    service_rate: float | None = None
    input_bytes: int = 0
    definition_bytes: int = 0
    history_events: int = 0
    lock_retries: int = 0
    load: list[tuple[float, float, float]] = field(default_factory=list)


def start_server(workdir: Path, name: str) -> tuple[Child, str]:
    """A fresh dev server for one phase; (child, address)."""
    port, ui_port = free_ports(2)
    server = Child(
        f"temporal ({name})",
        dev_server_command(
            binary=temporal_binary(),
            db_file=workdir / f"temporal-{name}.db",
            port=port,
            ui_port=ui_port,
            ip=HOST,
        ),
        log_path=workdir / f"temporal-{name}.log",
    )
    server.start()
    return server, f"{HOST}:{port}"


async def wait_for_worker(worker: Child, line: str) -> None:
    """Wait until a freshly started worker's log says it polls (its imports done)."""
    assert worker.log_path is not None
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while line not in worker.log_path.read_text(errors="replace"):
        worker_pid(worker)
        if time.monotonic() > deadline:
            raise RuntimeError(f"{worker.name} did not start polling; see {worker.log_path}")
        await asyncio.sleep(0.5)
    await asyncio.sleep(2)  # its first polls under way


def worker_pid(worker: Child) -> int:
    """The pid of a running child; RuntimeError (pointing at its log) once it has exited."""
    if worker.process is None or worker.exit_code() is not None:
        raise RuntimeError(f"{worker.name} is not running; see {worker.log_path}")
    return worker.process.pid


# -- the bare phase ----------------------------------------------------------------------------


async def run_bare(args: argparse.Namespace, workdir: Path, schedule: list[float]) -> Phase:
    """N bare open workflows on one worker, started on the tickets' schedule.

    First a burst of API_SAMPLE workflows that stay asleep for hours, started as fast as the
    client goes: the bare start rate. Then N workflows, workflow i started when ticket i was
    filed (`schedule`, seconds after the first), so their wake-ups come at the rungs' pace.
    """
    server, address = start_server(workdir, "bare")
    lateness_file = workdir / "bare-lateness.txt"
    lateness_file.touch()
    worker = Child(
        "bare worker",
        [
            sys.executable,
            __file__,
            "--serve-bare-worker",
            address,
            str(args.cache),
            str(lateness_file),
        ],
        log_path=workdir / "bare-worker.log",
    )
    try:
        client = await connect_temporal(address, server)
        worker.start()
        await wait_for_worker(worker, BARE_READY)
        pid = worker_pid(worker)
        phase = Phase(name="bare workflows", idle_rss=proc_status(pid)["VmRSS"])
        asleep = OpenPlan(wake_after=HOLD.total_seconds())

        async def burst(i: int) -> None:
            await client.start_workflow(
                OpenWorkflow.run, asleep, id=f"burst-{i:06d}", task_queue=BARE_QUEUE
            )

        t0 = time.monotonic()
        await in_lanes(0, API_SAMPLE, args.concurrency, burst)
        phase.service_rate = API_SAMPLE / (time.monotonic() - t0)
        plan = OpenPlan(wake_after=args.target * FIRST_RUNG)
        began = time.monotonic()

        async def start(i: int) -> None:
            delay = began + schedule[i] - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            await client.start_workflow(
                OpenWorkflow.run, plan, id=f"open-{i:06d}", task_queue=BARE_QUEUE
            )

        done = 0
        for level in args.levels:
            cpu0 = cpu_seconds(pid)
            t0 = time.monotonic()
            await in_lanes(done, level, args.concurrency, start)
            filed = time.monotonic() - t0
            done = level
            status = proc_status(worker_pid(worker))
            phase.checkpoints.append(
                Checkpoint(
                    count=level,
                    filed_seconds=filed,
                    open_seconds=filed,
                    rss_mib=status["VmRSS"],
                    hwm_mib=status["VmHWM"],
                    worker_cpu=cpu_seconds(pid) - cpu0,
                )
            )
            phase.load.append(os.getloadavg())
            note(f"bare: {level} open, started in {filed:.1f} s, RSS {status['VmRSS']:.0f} MiB")
        phase.due = args.tickets
        deadline = time.monotonic() + plan.wake_after + args.grace
        while time.monotonic() < deadline:
            if len(lateness_file.read_text().splitlines()) >= args.tickets:
                break
            await asyncio.sleep(1)
        phase.lateness = [float(line.split()[1]) for line in lateness_file.read_text().splitlines()]
        phase.checkpoints[-1].hwm_mib = proc_status(worker_pid(worker))["VmHWM"]
        history = await client.get_workflow_handle("open-000000").fetch_history()
        phase.input_bytes = started_input_bytes(history)
        phase.history_events = len(history.events)
        return phase
    finally:
        worker.stop(15)
        server.stop(15)


def started_input_bytes(history: Any) -> int:
    """The size of a workflow's input: the payloads of its first history event."""
    started = history.events[0].workflow_execution_started_event_attributes
    return sum(p.ByteSize() for p in started.input.payloads)


# -- the Ticketflow phase ----------------------------------------------------------------------


def definition(target: float) -> dict[str, Any]:
    """One stage nobody works on; a 24x7 clock with rungs at 10 % and 100 % of the target."""
    return {
        "key": DEFINITION_KEY,
        "title": "Open tickets bench",
        "key_prefix": "OPEN",
        "department": DEPARTMENT,
        "intake_form": {
            "type": "object",
            "properties": {"title": {"type": "string"}, "description": {"type": "string"}},
            "required": ["title"],
        },
        "stages": [{"key": "work", "title": "Work", "group": DEPARTMENT}],
        "sla": {
            "target": target,
            "ladder": [
                {
                    "name": "early",
                    "at_fraction": FIRST_RUNG,
                    "actions": [{"type": "notify", "recipients": [f"group:{DEPARTMENT}"]}],
                },
                {
                    "name": "due",
                    "at_fraction": 1.0,
                    "actions": [{"type": "notify", "recipients": [f"group:{DEPARTMENT}"]}],
                },
            ],
        },
    }


async def timed_gets(
    http: httpx.AsyncClient, path: str, params: dict[str, Any], headers: dict[str, str]
) -> list[float]:
    """LIST_SAMPLES sequential GETs; their latencies."""
    found = []
    for _ in range(LIST_SAMPLES):
        start = time.perf_counter()
        response = await http.get(path, params=params, headers=headers)
        if response.status_code != 200:
            raise RuntimeError(f"GET {path} {params}: {response.status_code} {response.text[:300]}")
        await response.aread()
        found.append(time.perf_counter() - start)
    return found


async def list_latencies(http: httpx.AsyncClient, token: str) -> dict[str, list[float]]:
    """GET /tickets as the department's agent with each filter, and /healthz as the baseline."""
    auth = {"Authorization": f"Bearer {token}"}
    found = {"healthz": await timed_gets(http, "/healthz", {}, {})}
    queries = {
        "status=open": {"status": "open"},
        "definition": {"definition": DEFINITION_KEY},
        "department": {"department": DEPARTMENT},
        "assignee (none match)": {"assignee": AGENT},
        "status+department": {"status": "open", "department": DEPARTMENT},
    }
    for name, params in queries.items():
        found[name] = await timed_gets(http, "/tickets", {**params, "limit": 50}, auth)
    # A page 20 pages deep: the keyset cursor, not an offset.
    cursor = None
    for _ in range(20):
        page = await http.get(
            "/tickets",
            params={"limit": 50, "cursor": cursor} if cursor else {"limit": 50},
            headers=auth,
        )
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    if cursor is not None:
        found["page 21 (cursor)"] = await timed_gets(
            http, "/tickets", {"limit": 50, "cursor": cursor}, auth
        )
    return found


async def count_open(sessions: Any) -> int:
    """Tickets the projection shows open."""
    async with sessions() as session:
        return int(
            await session.scalar(
                select(func.count()).select_from(TicketRow).where(TicketRow.status == "open")
            )
            or 0
        )


async def run_tickets(args: argparse.Namespace, workdir: Path, schedule: list[float]) -> Phase:
    """N open tickets on one worker; the API for the list latencies.

    Appends to `schedule` when each ticket was filed, seconds after the first filing began.
    """
    server, address = start_server(workdir, "tickets")
    database_url = args.database_url or f"sqlite:///{workdir / 'ticketflow.db'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TICKETFLOW_")}
    env |= {
        "TICKETFLOW_DATABASE_URL": database_url,
        "TICKETFLOW_TEMPORAL_ADDRESS": address,
        "TICKETFLOW_TASK_QUEUE": TICKET_QUEUE,
        "TICKETFLOW_DATA_DIR": str(workdir),
        "TICKETFLOW_WORKER_MAX_CACHED_WORKFLOWS": str(args.cache),
        "PYTHONUNBUFFERED": "1",
    }
    (api_port,) = free_ports(1)
    worker = Child(
        "ticket worker",
        [sys.executable, "-m", "ticketflow", "worker"],
        env,
        log_path=workdir / "worker.log",
    )
    api = Child(
        "API",
        [sys.executable, "-m", "ticketflow", "api", "--port", str(api_port)],
        env,
        log_path=workdir / "api.log",
    )
    engine = None
    try:
        client = await connect_temporal(address, server)
        tokens = await prepare_database(database_url, USERS)
        worker.start()
        api.start()
        engine = make_async_engine(database_url)
        sessions = make_sessionmaker(engine)
        limits = httpx.Limits(max_connections=args.concurrency, keepalive_expiry=2.0)
        async with httpx.AsyncClient(
            base_url=f"http://{HOST}:{api_port}", timeout=60, limits=limits, trust_env=False
        ) as http:
            deadline = time.monotonic() + STARTUP_TIMEOUT
            while True:
                try:
                    if (await http.get("/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError("the API did not come up")
                await asyncio.sleep(0.5)
            await wait_for_worker(worker, "worker polling task queue")
            published = await http.post(
                "/definitions",
                json=definition(args.target),
                headers={"Authorization": f"Bearer {tokens[OWNER]}"},
            )
            if published.status_code not in (200, 201):
                raise RuntimeError(f"publish: {published.status_code} {published.text[:500]}")
            async with sessions() as session:
                published_definition = await load_definition(
                    session=session, key=DEFINITION_KEY, version=None
                )
            pid = worker_pid(worker)
            phase = Phase(name="Ticketflow tickets", idle_rss=proc_status(pid)["VmRSS"])
            phase.definition_bytes = len(published_definition.model_dump_json())
            requester = Actor(user=REQUESTER, department="sales", role="requester")

            async def no_one(rows: list[Any]) -> list[bool]:
                return [False] * len(rows)

            async def file_one(i: int) -> None:
                data = {"title": f"open ticket {i}", "description": f"bench ticket number {i}"}
                idempotency_key = uuid.uuid4().hex
                for attempt in range(LOCK_RETRIES + 1):
                    async with sessions() as session:
                        try:
                            await file_ticket(
                                session=session,
                                client=client,
                                task_queue=TICKET_QUEUE,
                                definition=published_definition,
                                data=data,
                                requester=requester,
                                idempotency_key=idempotency_key,
                                may_see=no_one,
                            )
                            break
                        except Rejected as exc:
                            raise RuntimeError(f"ticket {i} refused: {exc.problems}") from exc
                        except OperationalError:
                            # SQLite's busy timeout ran out behind the worker's projection
                            # writes; the same Idempotency-Key makes the retry safe.
                            if attempt == LOCK_RETRIES:
                                raise
                            phase.lock_retries += 1
                            await asyncio.sleep(1)
                schedule[i] = time.monotonic() - began

            async def post_one(i: int) -> None:
                data = {"title": f"open ticket {i}", "description": f"bench ticket number {i}"}
                response = await http.post(
                    "/tickets",
                    json={"definition": DEFINITION_KEY, "data": data},
                    headers={
                        "Authorization": f"Bearer {tokens[REQUESTER]}",
                        "Idempotency-Key": uuid.uuid4().hex,
                    },
                )
                if response.status_code != 201:
                    raise RuntimeError(f"POST /tickets: {response.status_code} {response.text}")
                schedule[i] = time.monotonic() - began

            done = 0
            schedule.extend([0.0] * args.tickets)
            began = time.monotonic()
            last_filed = began
            for level in args.levels:
                cpu0 = cpu_seconds(pid)
                t0 = time.monotonic()
                if done == 0:
                    sample = min(API_SAMPLE, level)
                    await in_lanes(0, sample, args.concurrency, post_one)
                    phase.api_rate = sample / (time.monotonic() - t0)
                    t1 = time.monotonic()
                    await in_lanes(sample, level, args.concurrency, file_one)
                    if level > sample:
                        phase.service_rate = (level - sample) / (time.monotonic() - t1)
                else:
                    await in_lanes(done, level, args.concurrency, file_one)
                filed = time.monotonic() - t0
                last_filed = time.monotonic()
                done = level
                while await count_open(sessions) < level:
                    if time.monotonic() - last_filed > args.grace:
                        raise RuntimeError(f"the projection never showed {level} open tickets")
                    await asyncio.sleep(0.5)
                opened = time.monotonic() - t0
                status = proc_status(pid)
                checkpoint = Checkpoint(
                    count=level,
                    filed_seconds=filed,
                    open_seconds=opened,
                    rss_mib=status["VmRSS"],
                    hwm_mib=status["VmHWM"],
                    worker_cpu=cpu_seconds(pid) - cpu0,
                )
                note(
                    f"tickets: {level} open, filed in {filed:.1f} s, open in {opened:.1f} s, "
                    f"RSS {status['VmRSS']:.0f} MiB; measuring lists"
                )
                checkpoint.lists = await list_latencies(http, tokens[AGENT])
                phase.checkpoints.append(checkpoint)
                phase.load.append(os.getloadavg())

        phase.due = args.tickets
        wake = args.target * FIRST_RUNG
        deadline = last_filed + wake + args.grace
        while time.monotonic() < deadline:
            async with sessions() as session:
                fired = await session.scalar(
                    select(func.count())
                    .select_from(SlaEventRow)
                    .where(SlaEventRow.type == "sla_rung_fired", SlaEventRow.rung == 0)
                )
            if (fired or 0) >= args.tickets:
                break
            await asyncio.sleep(1)
        async with sessions() as session:
            rows = (
                await session.scalars(
                    select(SlaEventRow).where(
                        SlaEventRow.type == "sla_rung_fired", SlaEventRow.rung == 0
                    )
                )
            ).all()
        phase.lateness = [(r.at - r.due_at).total_seconds() for r in rows if r.due_at is not None]
        phase.checkpoints[-1].hwm_mib = proc_status(worker_pid(worker))["VmHWM"]
        async with sessions() as session:
            first = await session.scalar(select(TicketRow.key).order_by(TicketRow.key).limit(1))
        history = await client.get_workflow_handle(str(first)).fetch_history()
        phase.input_bytes = started_input_bytes(history)
        phase.history_events = len(history.events)
        return phase
    finally:
        if engine is not None:
            await engine.dispose()
        for child in (api, worker, server):
            child.stop(15)


# -- the report --------------------------------------------------------------------------------


def ms(seconds: float) -> str:
    """Seconds as milliseconds."""
    value = seconds * 1000
    return f"{value:.1f}" if value < 10 else f"{value:.0f}"


def late_line(values: list[float]) -> str:
    """p50 / p95 / p99 / max lateness in ms."""
    if not values:
        return "-"
    return " / ".join(ms(percentile(values, q)) for q in (50, 95, 99, 100))


def report(args: argparse.Namespace, bare: Phase, tickets: Phase, load_before: Any) -> None:
    """Print both phases side by side, with the ratios."""
    print(
        f"Ticketflow open-tickets bench, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; "
        f"{os.cpu_count()} cores, load average before {' '.join(f'{x:.2f}' for x in load_before)}"
    )
    print(
        f"--tickets {args.tickets} --levels {','.join(map(str, args.levels))} --target "
        f"{args.target:g} (first rung at {FIRST_RUNG:.0%}) --cache {args.cache} "
        f"--concurrency {args.concurrency}; database {args.database_url or 'SQLite'}"
    )
    print()
    print(f"{'':38} {'bare':>12} {'Ticketflow':>12} {'ratio':>7}")

    def row(label: str, b: float, t: float, fmt: str = ".1f") -> None:
        ratio = t / b if b else float("nan")
        print(f"{label:38} {b:>12{fmt}} {t:>12{fmt}} {ratio:>7.2f}")

    print(f"{'worker idle RSS (MiB)':38} {bare.idle_rss:>12.0f} {tickets.idle_rss:>12.0f}")
    previous = 0
    for b, t in zip(bare.checkpoints, tickets.checkpoints, strict=True):
        added = b.count - previous
        print(f"-- {b.count} open (+{added})")
        row("  start time of the added (s)", b.filed_seconds, t.filed_seconds)
        row("  ... until all projected open (s)", b.open_seconds, t.open_seconds)
        row(
            "  worker CPU ms per added ticket",
            b.worker_cpu / added * 1000,
            t.worker_cpu / added * 1000,
        )
        row("  worker RSS now (MiB)", b.rss_mib, t.rss_mib, ".0f")
        row("  worker peak RSS (MiB)", b.hwm_mib, t.hwm_mib, ".0f")
        row(
            "  RSS over idle per open (KiB)",
            (b.rss_mib - bare.idle_rss) * 1024 / b.count,
            (t.rss_mib - tickets.idle_rss) * 1024 / t.count,
        )
        previous = b.count
        if t.lists:
            base = percentile(t.lists["healthz"], 50)
            print(f"  {'GET, as the agent':36} {'p50 ms':>12} {'p99 ms':>12} {'p50/hz':>7}")
            for name, values in t.lists.items():
                p50, p99 = percentile(values, 50), percentile(values, 99)
                print(f"    {name:34} {ms(p50):>12} {ms(p99):>12} {p50 / base:>7.1f}")
    if tickets.api_rate and tickets.service_rate and bare.service_rate:
        print(
            f"start rate: tickets through HTTP {tickets.api_rate:.1f}/s (the first {API_SAMPLE}), "
            f"through the service layer {tickets.service_rate:.1f}/s; bare workflows "
            f"{bare.service_rate:.1f}/s (a burst of {API_SAMPLE}); ratios service / HTTP "
            f"{tickets.service_rate / tickets.api_rate:.2f}, service / bare "
            f"{tickets.service_rate / bare.service_rate:.3f}"
        )
    print(f"filings retried after SQLite's busy timeout: {tickets.lock_retries}")
    print(
        f"first-rung lateness p50/p95/p99/max (ms): bare {late_line(bare.lateness)} "
        f"({len(bare.lateness)} of {bare.due}); Ticketflow {late_line(tickets.lateness)} "
        f"({len(tickets.lateness)} of {tickets.due})"
    )
    if bare.lateness and tickets.lateness:
        ratio = percentile(tickets.lateness, 99) / max(percentile(bare.lateness, 99), 1e-3)
        print(f"p99 lateness, Ticketflow / bare: {ratio:.2f}")
    print(
        f"workflow input per ticket: {tickets.input_bytes} bytes (bare {bare.input_bytes}); "
        f"of which the definition snapshot about {tickets.definition_bytes} bytes as JSON; "
        f"history events after the first rung: {tickets.history_events} "
        f"(bare {bare.history_events})"
    )
    sizes = ", ".join(
        f"{name.split('.')[0]} {len(ProcessDefinition.model_validate(doc).model_dump_json()):,}"
        for name, doc in bundled_definitions()
    )
    print(f"definition snapshot as JSON, bytes per ticket input, bundled definitions: {sizes}")
    print(
        "load average at each checkpoint: bare "
        + "; ".join(" ".join(f"{x:.1f}" for x in load) for load in bare.load)
        + " | Ticketflow "
        + "; ".join(" ".join(f"{x:.1f}" for x in load) for load in tickets.load)
    )


async def bench(args: argparse.Namespace, workdir: Path) -> None:
    """Both phases, then the report."""
    load_before = os.getloadavg()
    schedule: list[float] = []
    note(f"Ticketflow phase: {args.tickets} tickets, cache {args.cache}")
    tickets = await run_tickets(args, workdir, schedule)
    note(f"bare phase: {args.tickets} workflows on the same schedule, cache {args.cache}")
    bare = await run_bare(args, workdir, schedule)
    report(args, bare, tickets, load_before)


def main() -> None:
    """Parse the command line; run the bench or serve the baseline's worker."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    # `make bench` runs every bench: the 100,000 is `--tickets 100000 --levels
    # 2000,10000,100000`, hours of filing on one worker here.
    parser.add_argument("--tickets", type=int, default=2000)
    parser.add_argument("--levels", default="500,2000", help="cumulative checkpoints")
    parser.add_argument("--target", type=float, default=600.0, help="SLA target, seconds")
    parser.add_argument("--cache", type=int, default=1000, help="max cached workflows")
    parser.add_argument("--concurrency", type=int, default=8, help="starts in flight")
    parser.add_argument("--grace", type=float, default=120.0, help="seconds to wait at the end")
    parser.add_argument("--database-url", help="the app database (default: SQLite in the temp dir)")
    parser.add_argument("--serve-bare-worker", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_bare_worker:
        address, cache, lateness = args.serve_bare_worker
        serve_bare_worker(address, int(cache), lateness)
        os._exit(0)
    levels = sorted({int(x) for x in args.levels.split(",") if x} | {args.tickets})
    args.levels = [level for level in levels if level <= args.tickets]
    workdir = Path(tempfile.mkdtemp(prefix="ticketflow-open-"))
    try:
        asyncio.run(bench(args, workdir))
    except BaseException:
        note(f"failed; logs kept in {workdir}")
        raise
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    sys.stdout.flush()
    # The Temporal SDK's runtime can crash the interpreter at exit (PyGILState_Release).
    os._exit(0)


if __name__ == "__main__":
    main()
