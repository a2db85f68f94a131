"""Ticket exports at size: memory of the API process and rate, against a 1,000-ticket export.

One run builds a migrated SQLite app database holding N projected incident tickets (bulk
inserts of the projection's rows: an intake with a few strings, a phone, a salary and a number,
two events each) of a published definition whose phone is confidential and salary restricted,
starts a Temporal dev server (the API connects at startup) and the real API process
(`ticketflow api`), and exports the period as an admin (every field) and as an agent of the
owning department (the salary redacted) in JSON Lines and CSV, each response streamed to
nowhere, counting bytes and lines.

Per export: seconds, tickets/s and the API process's RSS growth (its peak RSS, sampled from
/proc while the export runs, less its RSS just before). Baselines measured in the same run: the
same exports of the period's newest 1,000 tickets (growth ratio: about 1 if memory is constant)
and a raw SQLAlchemy `SELECT` of all the rows streamed from the same database (rate ratio).

Redaction is checked by value: every sampled salary the admin's export carries must be
missing from the agent's, and the agent's must carry the sampled phones it may read; a leak
fails the run.

Run from the repository root:

    .venv/bin/python bench/exports.py [--tickets N]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness
import httpx
from sqlalchemy import insert, select

from store.db import make_async_engine, make_sessionmaker
from store.definitions import insert_definition
from store.models import TicketEventRow, TicketRow
from tests.builders import incident
from ticketflow.devstack import Child
from ticketflow.temporal_server import dev_server_command, temporal_binary

BASELINE = 1_000
BATCH = 5_000
SAMPLE_EVERY = 0.02
BASE = datetime(2026, 1, 1, tzinfo=UTC)
USERS = {
    "owner": ("process-office", "process_owner"),
    "root": ("it", "admin"),
    "dana": ("service-desk", "agent"),
}
# The default policy: an admin reads every field; an agent of the owning department reads up to
# confidential (the phone), not the restricted salary (not maskable, so dropped).
ROLES = {"admin": "root", "agent": "dana"}
FORM: dict[str, Any] = {
    "type": "object",
    "required": ["title"],
    "properties": {
        "title": {"type": "string"},
        "site": {"type": "string"},
        "description": {"type": "string"},
        "phone": {"type": "string", "x-sensitivity": "confidential"},
        "salary": {"type": "integer", "x-sensitivity": "restricted"},
        "devices": {"type": "integer"},
    },
}


def phone(i: int) -> str:
    """Ticket i's phone: unique, so finding it in an export is a leak of that ticket's."""
    return f"+41 79 {i:07d}"


def salary(i: int) -> int:
    """Ticket i's salary: unique and long, so no other number in an export matches it."""
    return 7_000_000_000 + i


async def build(url: str, tickets: int) -> None:
    """Publish the definition and insert `tickets` projected tickets with two events each."""
    engine = make_async_engine(url)
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            await insert_definition(
                session=session,
                definition=incident(intake_form=FORM),
                published_by="owner",
                now=BASE,
            )
        for start in range(0, tickets, BATCH):
            rows, events = [], []
            for i in range(start, min(start + BATCH, tickets)):
                at = BASE + timedelta(minutes=i)
                key = f"INC-{i:07d}"
                rows.append(
                    {
                        "key": key,
                        "definition_key": "incident",
                        "definition_version": 1,
                        "department": "service-desk",
                        "title": f"printer {i} jams",
                        "status": "open",
                        "requester": "rita",
                        "intake": {
                            "title": f"printer {i} jams",
                            "site": f"site-{i % 40}",
                            "description": "paper jam on tray 2, error E-1042 after restart",
                            "phone": phone(i),
                            "salary": salary(i),
                            "devices": i % 7,
                        },
                        "created_at": at,
                        "updated_at": at + timedelta(seconds=30),
                        "resolved_at": None,
                        "closed_at": None,
                        "last_seq": 2,
                        "priority": "P3",
                        "category": "incident",
                    }
                )
                events += [
                    {
                        "ticket_key": key,
                        "seq": 1,
                        "type": "created",
                        "at": at,
                        "actor": "rita",
                        "data": {"intake": rows[-1]["intake"]},
                    },
                    {
                        "ticket_key": key,
                        "seq": 2,
                        "type": "claimed",
                        "at": at,
                        "actor": "dana",
                        "data": {"stage": "triage"},
                    },
                ]
            async with engine.begin() as connection:
                await connection.execute(insert(TicketRow), rows)
                await connection.execute(insert(TicketEventRow), events)
    finally:
        await engine.dispose()


async def raw_select(url: str) -> tuple[int, float]:
    """Stream every ticket row with a plain SELECT; (rows, seconds)."""
    engine = make_async_engine(url)
    try:
        start = time.perf_counter()
        count = 0
        async with engine.connect() as connection:
            result = await connection.stream(select(TicketRow.__table__))
            async for _row in result:
                count += 1
        return count, time.perf_counter() - start
    finally:
        await engine.dispose()


def rss_kib(pid: int) -> int:
    """The process's resident set size now."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise harness.BenchError(f"no VmRSS for {pid}")


@dataclass
class Run:
    """One export: what came out, how long it took, and the API's RSS growth."""

    tickets: int
    format: str
    role: str
    size: int
    lines: int
    seconds: float
    growth_kib: int
    first_byte: float
    body_sample: bytes


async def export(
    http: httpx.AsyncClient, pid: int, token: str, format_: str, role: str, period: dict[str, str]
) -> Run:
    """Stream one export to nowhere, sampling the API's RSS meanwhile."""
    before = rss_kib(pid)
    peak = before
    done = asyncio.Event()

    async def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, rss_kib(pid))
            await asyncio.sleep(SAMPLE_EVERY)

    sampler = asyncio.create_task(sample())
    size = lines = 0
    kept = bytearray()
    start = time.perf_counter()
    first_byte = 0.0
    try:
        async with http.stream(
            "GET",
            "/tickets/export",
            params={"format": format_, **period},
            headers={"Authorization": f"Bearer {token}"},
        ) as response:
            if response.status_code != 200:
                raise harness.BenchError(f"export: HTTP {response.status_code}")
            async for chunk in response.aiter_raw():
                if not size:
                    first_byte = time.perf_counter() - start
                size += len(chunk)
                lines += chunk.count(b"\n")
                if len(kept) < 1_000_000:
                    kept += chunk
    finally:
        seconds = time.perf_counter() - start
        done.set()
        await sampler
    peak = max(peak, rss_kib(pid))
    tickets = lines - (1 if format_ == "csv" else 0)
    return Run(tickets, format_, role, size, lines, seconds, peak - before, first_byte, bytes(kept))


def check_redaction(full: Run, redacted: Run, sample: range) -> int:
    """Sampled salaries: in the full export, never in the redacted; its phones still there.

    Returns how many salaries were checked.
    """
    for i in sample:
        secret, readable = str(salary(i)).encode(), phone(i).encode()
        if secret not in full.body_sample or readable not in full.body_sample:
            raise harness.BenchError(f"the {full.role}'s {full.format} export lacks ticket {i}")
        if secret in redacted.body_sample:
            raise harness.BenchError(
                f"LEAK: the {redacted.role}'s {redacted.format} export has salary {secret!r}"
            )
        if readable not in redacted.body_sample:
            raise harness.BenchError(
                f"the {redacted.role}'s {redacted.format} export lacks phone {readable!r}"
            )
    return len(sample)


@dataclass
class Result:
    """Everything measured."""

    tickets: int
    build_seconds: float
    runs: list[Run]
    raw_rows: int
    raw_seconds: float
    checked: int


async def work(workdir: Path, children: dict[str, Child], tickets: int) -> Result:
    """Build the database, start Temporal and the API, export at both sizes."""
    temporal_port, ui_port, api_port = harness.free_ports(3)
    address = f"{harness.HOST}:{temporal_port}"
    command = dev_server_command(
        binary=temporal_binary(),
        db_file=workdir / "temporal.db",
        port=temporal_port,
        ui_port=ui_port,
        ip=harness.HOST,
    )
    harness.start_child(
        children, Child(harness.TEMPORAL, command, log_path=workdir / "temporal.log")
    )
    url = f"sqlite:///{workdir / 'ticketflow.db'}"
    tokens = await harness.prepare_database(url, USERS)
    harness.note(f"building {tickets:,} tickets")
    start = time.perf_counter()
    await build(url, tickets)
    build_seconds = time.perf_counter() - start
    harness.note(f"built in {build_seconds:.1f} s")
    await harness.connect_temporal(address, children[harness.TEMPORAL])
    env = {key: value for key, value in os.environ.items() if not key.startswith("TICKETFLOW_")}
    env |= {
        "TICKETFLOW_DATABASE_URL": url,
        "TICKETFLOW_TEMPORAL_ADDRESS": address,
        "PYTHONUNBUFFERED": "1",
    }
    argv = [sys.executable, "-m", "ticketflow", "api", "--port", str(api_port)]
    harness.start_child(children, Child(harness.API, argv, env, log_path=workdir / "api.log"))
    api = children[harness.API]
    assert api.process is not None
    pid = api.process.pid
    newest = BASE + timedelta(minutes=tickets)
    periods = {
        BASELINE: {
            "from": (newest - timedelta(minutes=BASELINE)).isoformat(),
            "to": newest.isoformat(),
        },
        tickets: {"from": BASE.isoformat(), "to": newest.isoformat()},
    }
    runs = []
    checked = 0
    # No read timeout: a CSV export sends nothing until its column pass has read the period.
    timeout = httpx.Timeout(harness.HTTP_TIMEOUT, read=None)
    async with httpx.AsyncClient(
        base_url=f"http://{harness.HOST}:{api_port}", timeout=timeout
    ) as http:
        await harness.wait_for_api(http, children)
        # Warm the API (imports, caches, first connection) so the 1,000 baseline is not
        # charged for them.
        for format_ in ("jsonl", "csv"):
            for user in ROLES.values():
                await export(http, pid, tokens[user], format_, "warm", periods[BASELINE])
        for size, period in periods.items():
            for format_ in ("jsonl", "csv"):
                done = {}
                for role, user in ROLES.items():
                    harness.note(f"exporting {size:,} as {role} in {format_}")
                    run = await export(http, pid, tokens[user], format_, role, period)
                    if run.tickets != size:
                        raise harness.BenchError(f"{role} got {run.tickets} of {size} tickets")
                    runs.append(run)
                    done[role] = run
                # The newest tickets come first, so the kept head holds the newest ones.
                checked += check_redaction(
                    done["admin"], done["agent"], range(tickets - 200, tickets)
                )
    raw_rows, raw_seconds = await raw_select(url)
    return Result(tickets, build_seconds, runs, raw_rows, raw_seconds, checked)


def report(result: Result) -> None:
    """Print the table and the ratios."""
    print(f"\nbuilt {result.tickets:,} tickets (2 events each) in {result.build_seconds:.1f} s")
    print(
        f"raw SELECT: {result.raw_rows:,} rows in {result.raw_seconds:.2f} s "
        f"({result.raw_rows / result.raw_seconds:,.0f} rows/s)\n"
    )
    print(
        f"{'tickets':>8} {'format':>6} {'role':>8} {'bytes':>12} {'seconds':>8} "
        f"{'tickets/s':>10} {'1st byte s':>10} {'RSS growth MiB':>15}"
    )
    for r in result.runs:
        print(
            f"{r.tickets:>8,} {r.format:>6} {r.role:>8} {r.size:>12,} {r.seconds:>8.2f} "
            f"{r.tickets / r.seconds:>10,.0f} {r.first_byte:>10.2f} {r.growth_kib / 1024:>15.1f}"
        )
    print()
    raw_rate = result.raw_rows / result.raw_seconds
    small = {(r.format, r.role): r for r in result.runs if r.tickets == BASELINE}
    for r in result.runs:
        if r.tickets == BASELINE:
            continue
        base = small[(r.format, r.role)]
        # A ratio of two near-zero growths says nothing; the difference says what grew.
        growth = f"x{r.growth_kib / base.growth_kib:.2f}" if base.growth_kib >= 512 else "n/a"
        print(
            f"{r.format:>5} {r.role:>8}: RSS growth {r.growth_kib / 1024:.1f} MiB at "
            f"{r.tickets:,} vs {base.growth_kib / 1024:.1f} MiB at {BASELINE:,} ({growth}, "
            f"{(r.growth_kib - base.growth_kib) / 1024:+.1f} MiB); "
            f"rate vs raw SELECT {r.tickets / r.seconds / raw_rate:.3f}"
        )
    print(
        f"\nredaction: {result.checked} sampled salaries in the admin's exports, "
        "none in the agent's (its phones present)"
    )


def main() -> None:
    """Parse the size, run, report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=100_000)
    args = parser.parse_args()
    if args.tickets < BASELINE:
        parser.error(f"--tickets must be at least {BASELINE}")
    code = harness.run_stack(lambda w, c: work(w, c, args.tickets), report)
    harness.exit_now(code)


if __name__ == "__main__":
    main()
