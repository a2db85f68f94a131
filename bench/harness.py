"""What the benches that race Ticketflow against bare Temporal share.

One embedded Temporal dev server started the way `ticketflow dev` does (the `temporal` binary
next to this Python, its state in a SQLite file in a temp dir), the Ticketflow API and worker
as processes on a migrated SQLite app database, a bare worker process, CPU per process from
/proc, rounds of tickets with C in flight, and what the histories show per workflow.

A bench script imports this module by its plain name (the script's own directory is first on
`sys.path`) and serves its bare worker from its own command line (`serve_worker`); a workflow
defined here is re-imported under that name in Temporal's sandbox. Not a bench itself: the
Makefile's `bench` target skips it.
"""

from __future__ import annotations

import asyncio
import compileall
import math
import os
import resource
import shutil
import signal
import socket
import sys
import tempfile
import time
import traceback
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from temporalio import activity, workflow
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WithStartWorkflowOperation
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError
from temporalio.worker import Worker

# A bare worker re-runs its workflows' modules in Temporal's sandbox; these must not be
# re-imported there.
with workflow.unsafe.imports_passed_through():
    import httpx
    import uvloop

    from store.db import make_async_engine, make_sessionmaker
    from store.migrate import upgrade_database
    from store.users import add_user
    from ticketflow.devstack import Child
    from ticketflow.temporal_client import DATA_CONVERTER, ensure_search_attributes
    from ticketflow.temporal_server import dev_server_command, temporal_binary

T = TypeVar("T")
R = TypeVar("R")

HOST = "127.0.0.1"
TICKET_QUEUE = "bench-tickets"
BARE_QUEUE = "bench-bare"
STARTUP_TIMEOUT = 180.0  # imports alone take a minute on a loaded 2-core machine
STOP_TIMEOUT = 15.0
HTTP_TIMEOUT = 60.0
ACTIVITY_TIMEOUT = timedelta(seconds=30)
LOCAL_ACTIVITY_MARKER = "core_local_activity"

TEMPORAL, API, TICKET_WORKER, BARE_WORKER, DRIVER = (
    "temporal server",
    "Ticketflow API",
    "Ticketflow worker",
    "bare worker",
    "bench driver (this)",
)
PROCESSES = (TEMPORAL, API, TICKET_WORKER, BARE_WORKER, DRIVER)


class BenchError(Exception):
    """The bench cannot go on; the message says why."""


# -- the bare baseline ------------------------------------------------------------------------


@activity.defn(name="bench_noop")
async def noop() -> None:
    """Do nothing: the baseline's stand-in for one of Ticketflow's activities."""


@dataclass
class BarePlan:
    """The no-op activities the baseline calls, in order: True for a local one."""

    steps: list[bool]


@workflow.defn(name="BenchBareWorkflow")
class BareWorkflow:
    """The baseline ticket: no-op activities one after the other, nothing else."""

    @workflow.run
    async def run(self, plan: BarePlan) -> int:
        """Call the no-op activity once per step, local or regular as the step says."""
        for local in plan.steps:
            if local:
                await workflow.execute_local_activity(noop, start_to_close_timeout=ACTIVITY_TIMEOUT)
            else:
                await workflow.execute_activity(noop, start_to_close_timeout=ACTIVITY_TIMEOUT)
        return len(plan.steps)


@dataclass
class UpdatePlan:
    """The Updates of the Update-driven baseline: per Update, how many no-op local activities.

    The first entry is the Update sent with the workflow's start.
    """

    steps: list[int]


@workflow.defn(name="BenchBareUpdateWorkflow")
class BareUpdateWorkflow:
    """The Update-driven baseline: each Update runs its no-op local activities and answers.

    Driven like a ticket: started with its first Update, then one Update at a time from a
    plain client, closing after the last.
    """

    @workflow.init
    def __init__(self, plan: UpdatePlan) -> None:
        self._plan = plan
        self._answered = 0

    @workflow.run
    async def run(self, plan: UpdatePlan) -> int:
        """Wait until every Update of the plan has been answered."""
        await workflow.wait_condition(lambda: self._answered == len(plan.steps))
        return self._answered

    @workflow.update
    async def step(self, step: int) -> int:
        """Run this Update's no-op local activities, one after the other."""
        for _ in range(self._plan.steps[step]):
            await workflow.execute_local_activity(noop, start_to_close_timeout=ACTIVITY_TIMEOUT)
        self._answered += 1
        return step


def serve_worker(
    address: str,
    task_queue: str,
    workflows: Sequence[type],
    activities: Sequence[Callable[..., Any]],
) -> None:
    """Run a worker (default settings, like Ticketflow's) until SIGINT/SIGTERM."""

    async def serve() -> None:
        client = await Client.connect(address)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        async with Worker(
            client, task_queue=task_queue, workflows=workflows, activities=activities
        ):
            await stop.wait()

    # The same event loop as `ticketflow worker`, so the loop is not what differs.
    uvloop.run(serve())


async def drive_bare(client: Client, plan: BarePlan, prefix: str, index: int) -> tuple[float, str]:
    """Run one baseline workflow to its result; (seconds, workflow id)."""
    workflow_id = f"bare-{prefix}-{index}"
    start = time.perf_counter()
    await client.execute_workflow(BareWorkflow.run, plan, id=workflow_id, task_queue=BARE_QUEUE)
    return time.perf_counter() - start, workflow_id


async def drive_bare_updates(
    client: Client, plan: UpdatePlan, prefix: str, index: int
) -> tuple[float, str]:
    """Run one Update-driven baseline workflow: start with its first Update, then the rest."""
    workflow_id = f"bare-updates-{prefix}-{index}"
    start = time.perf_counter()
    operation = WithStartWorkflowOperation(
        BareUpdateWorkflow.run,
        plan,
        id=workflow_id,
        task_queue=BARE_QUEUE,
        id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
    )
    await client.execute_update_with_start_workflow(
        BareUpdateWorkflow.step, 0, start_workflow_operation=operation
    )
    handle = client.get_workflow_handle(workflow_id)
    for step in range(1, len(plan.steps)):
        await handle.execute_update(BareUpdateWorkflow.step, step)
    await handle.result()
    return time.perf_counter() - start, workflow_id


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

    def cpu_ms(self, name: str) -> str:
        """The CPU milliseconds per ticket of one process."""
        return ms(self.cpu[name] / len(self.end_to_end))

    @property
    def cores_busy(self) -> str:
        """CPU seconds of every process over wall seconds."""
        return f"{sum(self.cpu.values()) / self.wall:.2f}"


@dataclass
class Histories:
    """What a set of completed workflows' histories show."""

    activity_calls: set[int] = field(default_factory=set)
    local_calls: set[int] = field(default_factory=set)
    events: set[int] = field(default_factory=set)
    workflow_tasks: set[int] = field(default_factory=set)
    activity_run: list[float] = field(default_factory=list)
    # Each workflow's activity calls in order, True for a local one.
    sequences: list[list[bool]] = field(default_factory=list)
    # Each workflow's local activity calls per accepted Update, in order (the calls before
    # the first Update counted with it).
    update_steps: list[list[int]] = field(default_factory=list)


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


def round_sizes(total: int, rounds: int) -> list[int]:
    """`total` tickets split as evenly as can be over `rounds` rounds."""
    return [total // rounds + (r < total % rounds) for r in range(rounds)]


async def read_history(client: Client, workflow_id: str, into: Histories) -> None:
    """Wait for a workflow to complete, then add what its history shows to `into`."""
    handle = client.get_workflow_handle(workflow_id)
    await handle.result()
    history = await handle.fetch_history()
    tasks = 0
    sequence: list[bool] = []
    steps: list[int] = []
    before_first = 0
    started: dict[int, float] = {}
    for event in history.events:
        at = event.event_time.ToNanoseconds() / 1e9
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            sequence.append(False)
        elif (
            event.event_type == EventType.EVENT_TYPE_MARKER_RECORDED
            and event.marker_recorded_event_attributes.marker_name == LOCAL_ACTIVITY_MARKER
        ):
            sequence.append(True)
            if steps:
                steps[-1] += 1
            else:
                before_first += 1
        elif event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
            steps.append(0 if steps else before_first)
        elif event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
            tasks += 1
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            started[event.event_id] = at
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
            attributes = event.activity_task_completed_event_attributes
            into.activity_run.append(at - started[attributes.started_event_id])
    into.activity_calls.add(len(sequence))
    into.local_calls.add(sum(sequence))
    into.events.add(len(history.events))
    into.workflow_tasks.add(tasks)
    into.sequences.append(sequence)
    into.update_steps.append(steps)


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
            client = await asyncio.wait_for(
                Client.connect(address, data_converter=DATA_CONVERTER), timeout=5
            )
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


async def prepare_database(url: str, users: dict[str, tuple[str, str]]) -> dict[str, str]:
    """Migrate the app database and add the users (name: department, role); their tokens."""
    upgrade_database(url=url)
    engine = make_async_engine(url)
    tokens = {}
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            for name, (department, role) in users.items():
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


@dataclass
class Stack:
    """The running bench stack: a Temporal client on the dev server and the API's users."""

    address: str
    client: Client
    api_url: str
    tokens: dict[str, str]


def byte_compile() -> None:
    """Write the bytecode of the project's packages and the benches, as an install would.

    With PYTHONDONTWRITEBYTECODE set (as on some machines) nothing is cached, and Temporal's
    sandbox, which imports a workflow's module afresh for every run, compiles it from source
    each time: a cost an installed deployment does not pay, on both sides of the comparison.
    """
    root = Path(__file__).resolve().parent.parent
    for package in sorted(p.parent for p in root.glob("*/__init__.py")):
        compileall.compile_dir(package, quiet=1)
    compileall.compile_dir(root / "bench", quiet=1)


async def start_stack(
    workdir: Path,
    children: dict[str, Child],
    users: dict[str, tuple[str, str]],
    bare_worker: list[str],
) -> Stack:
    """Start the dev server, the app database, the Ticketflow worker and API, the bare worker.

    `bare_worker` is the bare worker's command line without its last two arguments, the
    Temporal address and BARE_QUEUE.
    """
    byte_compile()
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
    tokens = await prepare_database(database_url, users)
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
        (BARE_WORKER, [*bare_worker, address, BARE_QUEUE]),
        (API, [python, "-m", "ticketflow", "api", "--port", str(api_port)]),
    ):
        log_path = workdir / f"{name.lower().replace(' ', '-')}.log"
        start_child(children, Child(name, argv, env, log_path=log_path))
    return Stack(address=address, client=client, api_url=f"http://{HOST}:{api_port}", tokens=tokens)


def api_client(stack: Stack, concurrency: int) -> httpx.AsyncClient:
    """An HTTP client on the API with `concurrency` connections."""
    # Idle connections expire before uvicorn's 5 s keep-alive closes them from its side, so
    # one idle through a bare round is never reused just as the server drops it.
    limits = httpx.Limits(
        max_connections=concurrency, max_keepalive_connections=None, keepalive_expiry=2.0
    )
    return httpx.AsyncClient(base_url=stack.api_url, timeout=HTTP_TIMEOUT, limits=limits)


def run_stack(
    work: Callable[[Path, dict[str, Child]], Awaitable[R]], report: Callable[[R], None]
) -> int:
    """Run `work` on a fresh temp dir, always stopping the child processes, then `report`.

    Returns the exit code; on a failure the logs are kept and their ends printed.
    """
    workdir = Path(tempfile.mkdtemp(prefix="ticketflow-bench-"))
    children: dict[str, Child] = {}
    # SIGTERM and a closed terminal stop the bench the way Ctrl-C does.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.default_int_handler)
    keep_logs = False
    try:
        result = asyncio.run(work(workdir, children))
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
    report(result)
    return 0


def exit_now(code: int) -> None:
    """Flush and leave through os._exit."""
    sys.stdout.flush()
    sys.stderr.flush()
    # The Temporal SDK's runtime can crash the interpreter at exit (PyGILState_Release).
    os._exit(code)


# -- the report -------------------------------------------------------------------------------


def span(values: set[int]) -> str:
    """One number, or the range the values cover."""
    return str(min(values)) if len(values) == 1 else f"{min(values)}..{max(values)}"


def ms(seconds: float) -> str:
    """Seconds as whole milliseconds."""
    return f"{seconds * 1000:.0f}"


def p50_p95(values: list[float]) -> str:
    """'p50 / p95' in milliseconds, or '-' without values."""
    if not values:
        return "-"
    return f"{ms(percentile(values, 50))} / {ms(percentile(values, 95))}"


def history_rows(*sides: Histories) -> list[tuple[str, ...]]:
    """The rows that compare what the sides' histories show per ticket, one cell per side."""
    return [
        ("activity calls / ticket", *(span(h.activity_calls) for h in sides)),
        ("  of which local activities", *(span(h.local_calls) for h in sides)),
        ("workflow tasks / ticket", *(span(h.workflow_tasks) for h in sides)),
        ("history events / ticket", *(span(h.events) for h in sides)),
        ("activity run p50 / p95 (ms)", *(p50_p95(h.activity_run) for h in sides)),
    ]


def print_table(
    rows: Sequence[tuple[str, ...]], headers: tuple[str, ...] = ("bare Temporal", "Ticketflow")
) -> None:
    """Rows of (label, one cell per side) under a header naming the sides."""
    width = max(len(row[0]) for row in rows)
    cell = max(14, *(len(h) for h in headers))
    print(f"{'':{width}}" + "".join(f"  {h:>{cell}}" for h in headers))
    for label, *cells in rows:
        print(f"{label:{width}}" + "".join(f"  {c:>{cell}}" for c in cells))
