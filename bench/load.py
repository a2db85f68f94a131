"""Mixed load on a real `ticketflow dev` stack, on SQLite and on PostgreSQL.

One run per app database. Each starts `python -m ticketflow dev` as a subprocess on a fresh
temp data dir (free ports; the Temporal dev server, the ticket, training and edge workers and
the API as its children, exactly as a user runs it), adds the bench's users to its database
(`store.users.add_user`, what `ticketflow users add` does), publishes a two-stage definition
and then, for a fixed time, runs closed-loop actors over httpx, each with its own client:

* requesters: file tickets (with an Idempotency-Key), list their tickets, read one, comment
  on one, and confirm each ticket an agent resolved for them;
* agents: list the open tickets of their department (a filtered list), read one, claim its
  open task (racing each other: a 409 is an expected outcome, counted apart), complete it,
  and now and then add an internal comment;
* a system client: signals `external_update` to open tickets and exports its tickets as
  JSON Lines (`GET /tickets/export?format=jsonl&limit=200`).

No think time: every actor sends its next request when the last is answered, so the figures
are the stack's saturated throughput at this many clients. Baseline in the same run, before
and after the mix (5 s each, pooled): the same number of clients calling `GET /healthz` back
to back (the cheapest endpoint: the HTTP stack and the event loop, no auth, no database, no
Temporal).

Printed per database: requests/s per endpoint with p50/p95/p99, expected 4xx (by code) and
errors (any 5xx or transport failure, with the first bodies), the ratios to the health-check
baseline, tickets created/resolved/closed, CPU seconds and peak resident memory (VmHWM from
/proc) of every process of the stack, and the load average. PostgreSQL runs on a database
created for the run on the server of `--postgres-server` and dropped after it.

Run from the repository root:

    .venv/bin/python bench/load.py [--seconds 60] [--requesters 4] [--agents 4]
        [--database sqlite|postgresql|both] [--database-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict, deque
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from harness import BenchError, free_ports, note, percentile, prepare_database
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from store.db import sync_url

HOST = "127.0.0.1"
READY_TIMEOUT = 300.0
STOP_TIMEOUT = 90.0
HTTP_TIMEOUT = 60.0
BANNER_END = "Press Ctrl-C to stop."
BASELINE_SECONDS = 5.0
DEPARTMENT = "bench-desk"
DEFINITION_KEY = "bench-load"
DEFINITION: dict[str, Any] = {
    "key": DEFINITION_KEY,
    "title": "Load bench: two stages",
    "key_prefix": "LOAD",
    "department": DEPARTMENT,
    "intake_form": {
        "type": "object",
        "properties": {"title": {"type": "string"}, "description": {"type": "string"}},
        "required": ["title"],
    },
    "stages": [
        {"key": "a", "title": "Diagnose", "group": DEPARTMENT},
        {"key": "b", "title": "Fix", "group": DEPARTMENT, "depends_on": ["a"]},
    ],
    "confirmation": {"timeout_hours": 24},
}
OWNER, SYSTEM = "owner", "monitor"
ENDPOINTS = (
    "create",
    "list",
    "detail",
    "claim",
    "complete",
    "comment",
    "confirm",
    "signal",
    "export",
)


# -- what one run measures ---------------------------------------------------------------------


@dataclass
class Tally:
    """Latencies and outcomes of one kind of request."""

    ok: list[float] = field(default_factory=list)
    expected_4xx: Counter[int] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    error_bodies: list[str] = field(default_factory=list)


@dataclass
class Tickets:
    """What the actors share: the open tickets, and each requester's resolved ones."""

    open: list[str] = field(default_factory=list)
    owner: dict[str, str] = field(default_factory=dict)
    resolved: dict[str, deque[str]] = field(default_factory=lambda: defaultdict(deque))
    created: int = 0
    resolved_count: int = 0
    closed: int = 0

    def pick_open(self) -> str | None:
        """A random open ticket, or None while there is none."""
        return random.choice(self.open) if self.open else None

    def resolve(self, key: str) -> None:
        """An agent's completion resolved `key`: its requester may confirm it now."""
        with suppress(ValueError):
            self.open.remove(key)
            self.resolved[self.owner[key]].append(key)
            self.resolved_count += 1


@dataclass
class ProcessFigures:
    """CPU seconds during the mix and the peak resident memory of one process."""

    name: str
    pid: int
    cpu_seconds: float
    peak_mib: float


@dataclass
class RunReport:
    """Everything one database's run prints."""

    database: str
    seconds: float
    tallies: dict[str, Tally]
    baseline: list[float]
    baseline_seconds: float
    tickets: Tickets
    processes: list[ProcessFigures]
    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float]


class Actor:
    """One client of the API: its own httpx connection and token, recording every request."""

    def __init__(self, base_url: str, token: str, tallies: dict[str, Tally]) -> None:
        limits = httpx.Limits(max_connections=1, keepalive_expiry=2.0)
        # trust_env=False: a proxy from the environment must not intercept loopback calls.
        self.http = httpx.AsyncClient(
            base_url=base_url,
            timeout=HTTP_TIMEOUT,
            limits=limits,
            trust_env=False,
            headers={"Authorization": f"Bearer {token}"},
        )
        self.tallies = tallies

    async def call(
        self,
        kind: str,
        method: str,
        path: str,
        *,
        body: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response | None:
        """Send one request; record its latency (2xx), expected 4xx or error; the response."""
        tally = self.tallies.setdefault(kind, Tally())
        start = time.perf_counter()
        try:
            response = await self.http.request(
                method, path, json=body, params=params, headers=headers
            )
            if method == "GET" and kind == "export":
                await response.aread()
        except httpx.HTTPError as exc:
            tally.errors[type(exc).__name__] += 1
            if len(tally.error_bodies) < 3:
                tally.error_bodies.append(f"{method} {path}: {exc!r}")
            return None
        elapsed = time.perf_counter() - start
        code = response.status_code
        if code < 400:
            tally.ok.append(elapsed)
        elif code < 500:
            tally.expected_4xx[code] += 1
        else:
            tally.errors[str(code)] += 1
            if len(tally.error_bodies) < 3:
                tally.error_bodies.append(f"{method} {path}: {code} {response.text[:300]}")
        return response

    async def close(self) -> None:
        """Close the connection."""
        await self.http.aclose()


# -- the actors --------------------------------------------------------------------------------


async def requester(
    actor: Actor, name: str, tickets: Tickets, until: float, rng: random.Random
) -> None:
    """File, list, read, comment on and confirm this requester's tickets until `until`."""
    mine: list[str] = []
    number = 0
    while time.monotonic() < until:
        resolved = tickets.resolved[name]
        if resolved:
            key = resolved.popleft()
            answer = await actor.call("confirm", "POST", f"/tickets/{key}/confirm", body={})
            if answer is not None and answer.status_code == 200:
                tickets.closed += 1
            continue
        roll = rng.random()
        if roll < 0.35 or not mine:
            number += 1
            data = {"title": f"{name} ticket {number}", "description": "printer on floor 3 jams"}
            answer = await actor.call(
                "create",
                "POST",
                "/tickets",
                body={"definition": DEFINITION_KEY, "data": data},
                headers={"Idempotency-Key": uuid.uuid4().hex},
            )
            if answer is not None and answer.status_code == 201:
                key = answer.json()["key"]
                mine.append(key)
                tickets.owner[key] = name
                tickets.open.append(key)
                tickets.created += 1
        elif roll < 0.60:
            await actor.call("list", "GET", "/tickets", params={"limit": 20})
        elif roll < 0.85:
            await actor.call("detail", "GET", f"/tickets/{rng.choice(mine)}")
        else:
            await actor.call(
                "comment",
                "POST",
                f"/tickets/{rng.choice(mine)}/comments",
                body={"body": "any news on this?"},
            )


async def agent(actor: Actor, tickets: Tickets, until: float, rng: random.Random) -> None:
    """List the department's open tickets, read one, claim and complete its open task."""
    while time.monotonic() < until:
        listed = await actor.call(
            "list",
            "GET",
            "/tickets",
            params={"status": "open", "department": DEPARTMENT, "limit": 20},
        )
        items = listed.json()["items"] if listed is not None and listed.status_code == 200 else []
        if not items:
            await asyncio.sleep(0.05)
            continue
        key = rng.choice(items)["key"]
        detail = await actor.call("detail", "GET", f"/tickets/{key}")
        if detail is None or detail.status_code != 200:
            continue
        if rng.random() < 0.1:
            await actor.call(
                "comment",
                "POST",
                f"/tickets/{key}/comments",
                body={"body": "looking into it", "internal": True},
            )
        open_tasks = [t for t in detail.json().get("tasks", []) if t.get("status") == "open"]
        if not open_tasks:
            continue
        stage = open_tasks[0]["stage_key"]
        claimed = await actor.call("claim", "POST", f"/tickets/{key}/tasks/{stage}/claim")
        if claimed is None or claimed.status_code != 200:
            continue
        done = await actor.call(
            "complete", "POST", f"/tickets/{key}/tasks/{stage}/complete", body={"data": {}}
        )
        if done is not None and done.status_code == 200 and done.json()["status"] == "resolved":
            tickets.resolve(key)


async def system(actor: Actor, tickets: Tickets, until: float, rng: random.Random) -> None:
    """Signal open tickets from a monitoring system; export the tickets now and then."""
    while time.monotonic() < until:
        if rng.random() < 0.2:
            await actor.call(
                "export", "GET", "/tickets/export", params={"format": "jsonl", "limit": 200}
            )
            continue
        key = tickets.pick_open()
        if key is None:
            await asyncio.sleep(0.05)
            continue
        await actor.call(
            "signal",
            "POST",
            f"/tickets/{key}/signals/external_update",
            body={"payload": {"status": "degraded", "check": "http"}},
        )


async def health_checks(base_url: str, clients: int, seconds: float) -> tuple[list[float], float]:
    """`clients` loops of GET /healthz for `seconds`; the latencies and the wall time."""
    latencies: list[float] = []

    async def loop(until: float) -> None:
        limits = httpx.Limits(max_connections=1, keepalive_expiry=2.0)
        async with httpx.AsyncClient(
            base_url=base_url, timeout=HTTP_TIMEOUT, limits=limits, trust_env=False
        ) as http:
            while time.monotonic() < until:
                start = time.perf_counter()
                response = await http.get("/healthz")
                if response.status_code != 200:
                    raise BenchError(f"/healthz answered {response.status_code}")
                latencies.append(time.perf_counter() - start)

    began = time.monotonic()
    await asyncio.gather(*(loop(began + seconds) for _ in range(clients)))
    return latencies, time.monotonic() - began


# -- the stack ---------------------------------------------------------------------------------


def read_proc(pid: int) -> tuple[float, float]:
    """(CPU seconds so far, peak resident MiB) of a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    peak = float("nan")
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            peak = int(line.split()[1]) / 1024
    return cpu, peak


def children_of(pid: int) -> list[int]:
    """Live processes whose parent is `pid`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[1]) == pid:
            found.append(int(entry.name))
    return found


def process_name(pid: int) -> str:
    """Which part of the dev stack a child process is, from its command line."""
    argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    line = " ".join(argv)
    if Path(argv[0]).name == "temporal":
        return "Temporal server"
    if "ticketflow worker" in line:
        return "training worker" if "--task-queue" in line else "ticket worker"
    if "ticketflow edge" in line:
        return "edge worker"
    if "ticketflow api" in line:
        return "API"
    return line[:60]


def stack_processes(dev_pid: int) -> dict[str, int]:
    """The dev stack's supervisor and children, by name."""
    found = {"supervisor (ticketflow dev)": dev_pid}
    for pid in children_of(dev_pid):
        with suppress(OSError):
            found[process_name(pid)] = pid
    return found


@contextmanager
def fresh_postgres(server_url: str) -> Iterator[str]:
    """Create an empty database on the server, yield its URL, drop it (FORCE) afterwards."""
    name = f"tf_load_{uuid.uuid4().hex[:12]}"
    admin = create_engine(sync_url(server_url), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def free_stack_ports() -> tuple[int, int]:
    """An API port and a Temporal port whose UI companion (port + 1000) is free too."""
    while True:
        api_port, temporal_port = free_ports(2)
        ui_port = temporal_port + 1000
        if ui_port > 65535 or ui_port == api_port:
            continue
        with socket.socket() as probe:
            try:
                probe.bind((HOST, ui_port))
            except OSError:
                continue
        return api_port, temporal_port


@contextmanager
def dev_stack(
    workdir: Path, database_url: str | None
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """Run `ticketflow dev` on `workdir/data` until the block ends; (process, API URL)."""
    api_port, temporal_port = free_stack_ports()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TICKETFLOW_")}
    env |= {"TICKETFLOW_DEV_STARTUP_SECONDS": str(READY_TIMEOUT), "PYTHONUNBUFFERED": "1"}
    if database_url:
        env["TICKETFLOW_DATABASE_URL"] = database_url
    data_dir = workdir / "data"
    log = workdir / "dev.log"
    argv = [
        sys.executable,
        "-m",
        "ticketflow",
        "dev",
        "--port",
        str(api_port),
        "--temporal-port",
        str(temporal_port),
        "--data-dir",
        str(data_dir),
    ]
    with log.open("wb") as sink:
        process = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=sink, stderr=subprocess.STDOUT, env=env
        )
    try:
        deadline = time.monotonic() + READY_TIMEOUT + 60
        while BANNER_END not in log.read_text(errors="replace"):
            if process.poll() is not None:
                raise BenchError(f"ticketflow dev exited early:\n{log.read_text()[-3000:]}")
            if time.monotonic() > deadline:
                raise BenchError(f"ticketflow dev did not come up:\n{log.read_text()[-3000:]}")
            time.sleep(0.25)
        yield process, f"http://{HOST}:{api_port}"
    finally:
        pids = list(stack_processes(process.pid).values())
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                note("ticketflow dev did not stop in time; killing what it started")
        for pid in pids:  # by id: the supervisor and the children it started for this run
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        process.wait()


# -- one run -----------------------------------------------------------------------------------


def users(args: argparse.Namespace) -> dict[str, tuple[str, str]]:
    """The bench's accounts: name -> (department, role)."""
    found = {OWNER: ("process-office", "process_owner"), SYSTEM: (DEPARTMENT, "system")}
    found |= {f"req{i}": ("sales", "requester") for i in range(args.requesters)}
    found |= {f"agent{i}": (DEPARTMENT, "agent") for i in range(args.agents)}
    return found


async def drive(
    args: argparse.Namespace, dev: subprocess.Popen[bytes], api_url: str, database_url: str
) -> RunReport:
    """Add the users, publish, run the baseline, then the mix; read /proc."""
    accounts = users(args)
    tokens = await prepare_database(database_url, accounts)
    tallies: dict[str, Tally] = {}
    owner = Actor(api_url, tokens[OWNER], {})
    published = await owner.call("publish", "POST", "/definitions", body=DEFINITION)
    await owner.close()
    if published is None or published.status_code not in (200, 201):
        raise BenchError(f"publishing failed: {published and published.text}")

    clients = args.requesters + args.agents + 1
    note(f"baseline: {clients} clients on GET /healthz for {BASELINE_SECONDS:g} s")
    baseline, baseline_wall = await health_checks(api_url, clients, BASELINE_SECONDS)

    processes = stack_processes(dev.pid)
    cpu_before = {name: read_proc(pid)[0] for name, pid in processes.items()}
    load_before = os.getloadavg()
    note(f"mix: {args.requesters} requesters, {args.agents} agents, 1 system for {args.seconds} s")
    tickets = Tickets()
    actors: list[Actor] = []
    jobs = []
    began = time.monotonic()
    until = began + args.seconds
    for i in range(args.requesters):
        actor = Actor(api_url, tokens[f"req{i}"], tallies)
        actors.append(actor)
        jobs.append(requester(actor, f"req{i}", tickets, until, random.Random(i)))
    for i in range(args.agents):
        actor = Actor(api_url, tokens[f"agent{i}"], tallies)
        actors.append(actor)
        jobs.append(agent(actor, tickets, until, random.Random(100 + i)))
    actor = Actor(api_url, tokens[SYSTEM], tallies)
    actors.append(actor)
    jobs.append(system(actor, tickets, until, random.Random(999)))
    try:
        await asyncio.gather(*jobs)
    finally:
        for actor in actors:
            await actor.close()
    wall = time.monotonic() - began
    note(f"baseline again, after the mix: {BASELINE_SECONDS:g} s")
    after, after_wall = await health_checks(api_url, clients, BASELINE_SECONDS)
    figures = []
    for name, pid in processes.items():
        cpu, peak = read_proc(pid)
        figures.append(ProcessFigures(name, pid, cpu - cpu_before[name], peak))
    return RunReport(
        database="",
        seconds=wall,
        tallies=tallies,
        baseline=baseline + after,
        baseline_seconds=baseline_wall + after_wall,
        tickets=tickets,
        processes=figures,
        load_before=load_before,
        load_after=os.getloadavg(),
    )


def run_one(args: argparse.Namespace, kind: str, database_url: str | None) -> RunReport:
    """Start a stack on a fresh data dir (and database), drive it, stop it, clean up."""
    workdir = Path(tempfile.mkdtemp(prefix="ticketflow-load-"))
    keep = True
    try:
        note(f"{kind}: starting ticketflow dev in {workdir}")
        with dev_stack(workdir, database_url) as (dev, api_url):
            url = database_url or f"sqlite:///{workdir / 'data' / 'ticketflow.db'}"
            report = asyncio.run(drive(args, dev, api_url, url))
        report.database = kind
        keep = False
        return report
    finally:
        if keep:
            note(f"logs kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


# -- the report --------------------------------------------------------------------------------


def ms(seconds: float) -> str:
    """Seconds as milliseconds, one decimal under 10 ms."""
    value = seconds * 1000
    return f"{value:.1f}" if value < 10 else f"{value:.0f}"


def print_run(report: RunReport) -> None:
    """One database's figures."""
    base_rate = len(report.baseline) / report.baseline_seconds
    base_p50 = percentile(report.baseline, 50)
    load = " ".join(f"{x:.2f}" for x in report.load_before)
    after = " ".join(f"{x:.2f}" for x in report.load_after)
    print(f"== {report.database}: {report.seconds:.0f} s of mixed load")
    print(f"load average before the mix {load}, after {after}")
    print(
        f"{'endpoint':10} {'ok':>6} {'ok/s':>7} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} "
        f"{'p50/hz':>7}  {'expected 4xx':16} errors"
    )
    total_ok = 0
    total_errors = 0
    for kind in ENDPOINTS:
        tally = report.tallies.get(kind)
        if tally is None:
            continue
        total_ok += len(tally.ok)
        total_errors += sum(tally.errors.values())
        fours = ", ".join(f"{n}x{c}" for c, n in sorted(tally.expected_4xx.items())) or "-"
        errors = ", ".join(f"{n}x{c}" for c, n in sorted(tally.errors.items())) or "0"
        if tally.ok:
            p50, p95, p99 = (percentile(tally.ok, q) for q in (50, 95, 99))
            cells = f"{ms(p50):>7} {ms(p95):>7} {ms(p99):>7} {p50 / base_p50:>7.0f}"
        else:
            cells = f"{'-':>7} {'-':>7} {'-':>7} {'-':>7}"
        rate = len(tally.ok) / report.seconds
        print(f"{kind:10} {len(tally.ok):>6} {rate:>7.2f} {cells}  {fours:16} {errors}")
    rate = total_ok / report.seconds
    hz = [percentile(report.baseline, q) for q in (50, 95, 99)]
    print(
        f"{'healthz':10} {len(report.baseline):>6} {base_rate:>7.1f} "
        f"{ms(hz[0]):>7} {ms(hz[1]):>7} {ms(hz[2]):>7} {1:>7}  (baseline, before and after the mix)"
    )
    print(
        f"all requests: {rate:.1f} ok/s, errors (5xx or transport) {total_errors}; "
        f"throughput ratio mix / health checks: {rate / base_rate:.3f}"
    )
    cpu = sum(p.cpu_seconds for p in report.processes)
    print(
        f"CPU of the stack per ok request: {cpu / max(total_ok, 1) * 1000:.0f} ms "
        f"({cpu / report.seconds:.2f} cores busy of {os.cpu_count()})"
    )
    t = report.tickets
    print(
        f"tickets: {t.created} created ({t.created / report.seconds:.2f}/s), "
        f"{t.resolved_count} resolved, {t.closed} closed"
    )
    for kind in ENDPOINTS:
        for body in report.tallies.get(kind, Tally()).error_bodies:
            print(f"  error: {body}")
    print(f"{'process':28} {'CPU s':>7} {'cores':>6} {'peak RSS MiB':>13}")
    for proc in report.processes:
        print(
            f"{proc.name:28} {proc.cpu_seconds:>7.1f} {proc.cpu_seconds / report.seconds:>6.2f} "
            f"{proc.peak_mib:>13.0f}"
        )
    print()


def main() -> None:
    """Parse the command line, run each database, print the report."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the mix")
    parser.add_argument("--requesters", type=int, default=4)
    parser.add_argument("--agents", type=int, default=4)
    parser.add_argument("--database", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument(
        "--database-url", help="run once, on this (empty or migrated) database instead"
    )
    parser.add_argument(
        "--postgres-server",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="where the PostgreSQL run creates (and drops) its database",
    )
    args = parser.parse_args()
    if min(args.requesters, args.agents) < 1 or args.seconds <= 0:
        parser.error("at least one requester and one agent, for a positive time")
    print(
        f"Ticketflow load bench, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {os.cpu_count()} cores; "
        f"--seconds {args.seconds:g} --requesters {args.requesters} --agents {args.agents}"
    )
    reports = []
    try:
        if args.database_url:
            reports.append(run_one(args, "given database", args.database_url))
        else:
            if args.database in ("sqlite", "both"):
                reports.append(run_one(args, "SQLite", None))
            if args.database in ("postgresql", "both"):
                with fresh_postgres(args.postgres_server) as url:
                    reports.append(run_one(args, "PostgreSQL", url))
    except BenchError as exc:
        note(f"failed: {exc}")
        sys.exit(1)
    print()
    for report in reports:
        print_run(report)
    if len(reports) == 2:
        rates = [sum(len(t.ok) for t in r.tallies.values()) / r.seconds for r in reports]
        print(f"ok requests/s, PostgreSQL / SQLite: {rates[1] / rates[0]:.2f}")
    sys.stdout.flush()
    # The Temporal SDK's runtime can crash the interpreter at exit (PyGILState_Release).
    os._exit(0)


if __name__ == "__main__":
    main()
