"""Usage metering and /metrics' projection figures: what a month's query costs on many events.

One run migrates a database (a SQLite file by default, or `--database-url`), writes T tickets
of E events each spread over 30 days (a tenth of them with a snapshot, each with a delivery
attempt), then times, best of R:

* baseline: the count of the month's events (`at` in range), one scan of the events table;
* `store.usage.usage` over the 30 days, every subject (the billing run);
* `store.metrics.projection_figures`, what one /metrics scrape reads.

Printed: milliseconds of each and its ratio to the baseline measured in the same run.

Run from the repository root:

    PYTHONPATH=$PWD .venv/bin/python bench/usage.py [--tickets 20000] [--events 10]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, inspect, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from store.db import make_async_engine, make_sessionmaker, make_sync_engine
from store.metrics import projection_figures
from store.migrate import upgrade_database
from store.models import (
    DeliveryAttemptRow,
    DeviceSnapshotRow,
    SubscriptionRow,
    TicketEventRow,
    TicketRow,
)
from store.usage import usage

START = datetime(2026, 3, 1, tzinfo=UTC)
MONTH = timedelta(days=30)
SYSTEMS = ("monitor", "gateway", "crm", "git")
DEPARTMENTS = ("service-desk", "ops", "dev", "field")
TYPES = ("task_opened", "task_claimed", "service_completed", "comment_added", "task_completed")


async def _seed(sessions: async_sessionmaker[AsyncSession], tickets: int, events: int) -> None:
    async with sessions() as session, session.begin():
        session.add(
            SubscriptionRow(
                id="sub-1", owner="monitor", owner_role="system", owner_department="it",
                url="https://example.test/", event_types=[], filter=None, secret="s",
                status="active", created_at=START, paused_at=None, paused_reason=None,
            )
        )  # fmt: skip
    for first in range(0, tickets, 2_000):
        batch = range(first, min(first + 2_000, tickets))
        at = {i: START + timedelta(seconds=i * 30 * 86_400 // tickets) for i in batch}
        ticket_rows = [
            {
                "key": f"B-{i:07d}", "definition_key": f"def-{i % 5}", "definition_version": 1,
                "department": DEPARTMENTS[i % 4], "title": "t", "status": "open",
                "requester": SYSTEMS[i % 4], "intake": {}, "created_at": at[i],
                "updated_at": at[i], "resolved_at": None, "closed_at": None, "last_seq": events,
            }
            for i in batch
        ]  # fmt: skip
        event_rows = [
            {
                "ticket_key": f"B-{i:07d}", "seq": seq,
                "type": "created" if seq == 1 else TYPES[seq % len(TYPES)],
                "at": at[i] + timedelta(minutes=seq), "actor": "system", "data": {},
            }
            for i in batch
            for seq in range(1, events + 1)
        ]  # fmt: skip
        snapshots = [
            {
                "device_id": "press-7", "device_version": 1, "site": "local", "taken_at": at[i],
                "sha256": "0" * 64, "document": {}, "ticket_key": f"B-{i:07d}",
            }
            for i in batch
            if i % 10 == 0
        ]  # fmt: skip
        attempts = [
            {
                "subscription_id": "sub-1", "event_id": f"B-{i:07d}-1", "ticket_key": f"B-{i:07d}",
                "event_type": "created", "attempt": 1, "at": at[i], "outcome": "delivered",
            }
            for i in batch
        ]  # fmt: skip
        async with sessions() as session, session.begin():
            await session.execute(insert(TicketRow), ticket_rows)
            await session.execute(insert(TicketEventRow), event_rows)
            await session.execute(insert(DeviceSnapshotRow), snapshots)
            await session.execute(insert(DeliveryAttemptRow), attempts)


async def _best(
    sessions: async_sessionmaker[AsyncSession],
    runs: int,
    work: Callable[[AsyncSession], Awaitable[Any]],
) -> float:
    best = float("inf")
    for _ in range(runs):
        async with sessions() as session:
            started = time.perf_counter()
            await work(session)
            best = min(best, time.perf_counter() - started)
    return best * 1000


async def _run(url: str, tickets: int, events: int, runs: int) -> None:
    probe = make_sync_engine(url)
    try:
        with probe.connect() as connection:
            if inspect(connection).get_table_names():
                raise SystemExit(f"{url} has tables already: give the bench an empty database")
    finally:
        probe.dispose()
    upgrade_database(url=url)
    engine = make_async_engine(url)
    sessions = make_sessionmaker(engine)
    try:
        await _seed(sessions, tickets, events)

        async def scan(session: AsyncSession) -> Any:
            in_month = (TicketEventRow.at >= START) & (TicketEventRow.at < START + MONTH)
            return await session.scalar(select(func.count()).where(in_month))

        async def month(session: AsyncSession) -> Any:
            return await usage(session=session, start=START, end=START + MONTH)

        async def scrape(session: AsyncSession) -> Any:
            return await projection_figures(session=session)

        baseline = await _best(sessions, runs, scan)
        print(
            f"{tickets} tickets, {tickets * events} events, {engine.dialect.name}, best of {runs}"
        )
        print(f"  baseline: count the month's events   {baseline:8.1f} ms  1.00x")
        for name, work in (("usage, 30 days, every subject", month), ("/metrics figures", scrape)):
            took = await _best(sessions, runs, work)
            print(f"  {name:<36} {took:8.1f} ms  {took / baseline:.2f}x")
    finally:
        await engine.dispose()


def main() -> None:
    """Seed, time, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=20_000)
    parser.add_argument("--events", type=int, default=10)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--database-url", help="an empty database, refused if it has tables (default: SQLite)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        url = args.database_url or f"sqlite:///{Path(scratch) / 'usage.db'}"
        asyncio.run(_run(url, args.tickets, args.events, args.runs))


if __name__ == "__main__":
    main()
