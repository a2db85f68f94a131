"""`GET /tickets` filters on a large projection: latency of the store's list query, and plans.

Fills a migrated database with N projected tickets (bulk inserts into `tickets`, `tasks` and
`ticket_participants`, in large transactions: several definitions, departments, statuses and
requesters; one task per ticket, a tenth of them handled by a second department), then times
`store.tickets.list_tickets` (what the route calls) with the route's filters (definition,
department, both, status) under the access predicates `api.ticket_access.visible_filter` gives
a requester (own tickets only), an agent (their department, their own work) and an admin
(everything), on the first page and on a page behind a cursor half-way down. Each case prints
p50/p99 and its ratio to the baseline measured in the same run: the admin's unfiltered first
page (`SELECT ... ORDER BY created_at, key LIMIT 51`), with a primary-key lookup beside it. Then
the plan of every case (`EXPLAIN QUERY PLAN` on SQLite, `EXPLAIN` on PostgreSQL).

SQLite in a temp dir by default; `--database-url postgresql://...@host/db` creates a throwaway
database on that server and drops it after. Run from the repository root:

    PYTHONPATH=$PWD .venv/bin/python bench/list_filters.py [--tickets 100000] [--repeat 30]
        [--database-url postgresql://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from domain.participation import GROUP, PERSON
from store.db import make_async_engine, make_sessionmaker, make_sync_engine
from store.migrate import upgrade_database
from store.models import TaskRow, TicketParticipantRow, TicketRow
from store.tickets import TicketFilter, encode_cursor, list_query, list_tickets

DEFINITIONS = [f"def-{i}" for i in range(8)]
DEPARTMENTS = ["it", "hr", "facilities", "finance", "legal", "sales"]
STATUSES = ["open"] * 6 + ["resolved", "closed", "cancelled", "open"]
REQUESTERS = [f"user{i}" for i in range(2000)]
T0 = datetime(2026, 1, 1, tzinfo=UTC)
BATCH = 5000

# The filter arguments visible_filter returns for each caller (api/ticket_access.py).
ROLES: dict[str, dict[str, Any]] = {
    "requester": {
        "visible_requester": "user7",
        "visible_departments": (),
        "visible_participant": None,
    },
    "agent": {
        "visible_requester": "agent-it",
        "visible_departments": ("it",),
        "visible_participant": "agent-it",
    },
    "admin": {},
}
FILTERS: dict[str, dict[str, Any]] = {
    "definition": {"definition_key": "def-3"},
    "department": {"department": "it"},
    "definition+department": {"definition_key": "def-3", "department": "it"},
    "status": {"status": "open"},
}


def _rows(start: int, count: int) -> tuple[list[dict[str, Any]], ...]:
    tickets, tasks, participants = [], [], []
    # Seeded per batch: the same database every run, columns independent of each other.
    spread = random.Random(start)
    for i in range(start, start + count):
        key = f"T-{i:07d}"
        department = spread.choice(DEPARTMENTS)
        at = T0 + timedelta(seconds=i * 7)
        tickets.append(
            {
                "key": key,
                "definition_key": spread.choice(DEFINITIONS),
                "definition_version": 1,
                "department": department,
                "title": f"ticket {i}",
                "status": spread.choice(STATUSES),
                "requester": spread.choice(REQUESTERS),
                "intake": {},
                "created_at": at,
                "updated_at": at,
                "resolved_at": None,
                "closed_at": None,
                "last_seq": 1,
                "priority": "P3",
                "waiting_for": None,
                "parent_key": None,
                "category": None,
            }
        )
        # A tenth of the tickets are handled by the next department too.
        group = spread.choice(DEPARTMENTS) if spread.random() < 0.1 else department
        assignee = f"agent-{group}" if spread.random() < 0.25 else None
        # What the projection keeps (store.tickets.refresh_departments_statement).
        tickets[-1]["departments"] = sorted({department, group})
        tasks.append(
            {
                "id": f"{key}:s1:1",
                "ticket_key": key,
                "stage_key": "s1",
                "kind": "stage",
                "title": "work",
                "group_name": group,
                "status": "claimed" if assignee else "open",
                "assignee": assignee,
                "round": 1,
                "opened_at": at,
                "data": {},
            }
        )
        participants.append({"ticket_key": key, "kind": GROUP, "name": group})
        if assignee:
            participants.append({"ticket_key": key, "kind": PERSON, "name": assignee})
    return tickets, tasks, participants


async def fill(session_factory: Any, n: int) -> None:
    """N tickets with their tasks and participants, BATCH per transaction."""
    for start in range(0, n, BATCH):
        tickets, tasks, participants = _rows(start, min(BATCH, n - start))
        async with session_factory() as session, session.begin():
            await session.execute(insert(TicketRow), tickets)
            await session.execute(insert(TaskRow), tasks)
            await session.execute(insert(TicketParticipantRow), participants)


async def timed(repeat: int, call: Callable[[], Awaitable[object]]) -> tuple[float, float]:
    """p50 and p99 in ms over `repeat` calls, after one warm-up."""
    await call()
    samples = []
    for _ in range(repeat):
        began = time.perf_counter()
        await call()
        samples.append((time.perf_counter() - began) * 1000)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(len(samples) * 0.99))]


def _literal(session: AsyncSession, filters: TicketFilter, cursor: str | None) -> str:
    """The SQL list_tickets sends, values inlined, for EXPLAIN."""
    statement = list_query(filters, 50, cursor)
    dialect = session.get_bind().dialect
    return str(statement.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))


async def plan(session: AsyncSession, sql: str) -> list[str]:
    """The database's plan of this statement, one line per step."""
    if session.get_bind().dialect.name == "sqlite":
        rows = await session.execute(text(f"EXPLAIN QUERY PLAN {sql}"))
        return [str(row[3]) for row in rows]
    rows = await session.execute(text(f"EXPLAIN {sql}"))
    return [str(row[0]) for row in rows]


async def run(url: str, n: int, repeat: int) -> None:
    """Fill, then time and explain every case."""
    upgrade_database(url=url)
    engine = make_async_engine(url)
    sessions = make_sessionmaker(engine)
    try:
        began = time.perf_counter()
        await fill(sessions, n)
        async with sessions() as session:
            if session.get_bind().dialect.name == "sqlite":
                await session.execute(text("ANALYZE"))
            else:
                await session.execute(text("ANALYZE tickets, tasks, ticket_participants"))
            await session.commit()
        print(f"{engine.dialect.name}: {n} tickets filled in {time.perf_counter() - began:.1f} s")
        async with sessions() as session:
            middle = await session.scalar(
                select(TicketRow).order_by(TicketRow.created_at, TicketRow.key).offset(n // 2)
            )
            assert middle is not None
            deep = encode_cursor(middle)
            key = middle.key

            async def page(filters: TicketFilter, cursor: str | None) -> object:
                return await list_tickets(session=session, filters=filters, limit=50, cursor=cursor)

            async def by_key() -> object:
                session.expunge_all()
                return await session.get(TicketRow, key)

            pk50, pk99 = await timed(repeat, by_key)
            base50, base99 = await timed(repeat, lambda: page(TicketFilter(), None))
            print(f"baseline  pk lookup p50 {pk50:7.2f} ms  p99 {pk99:7.2f} ms")
            print(
                f"baseline  admin, no filter, first page p50 {base50:7.2f} ms  p99 {base99:7.2f} ms"
            )
            print(
                f"{'filter':24} {'caller':10} {'page':6} {'p50 ms':>8} {'p99 ms':>8} {'x base':>7}"
            )
            plans: list[tuple[str, list[str]]] = []
            for fname, fargs in FILTERS.items():
                for role, rargs in ROLES.items():
                    filters = TicketFilter(**fargs, **rargs)
                    for label, cursor in (("first", None), ("deep", deep)):
                        p50, p99 = await timed(repeat, lambda f=filters, c=cursor: page(f, c))
                        print(
                            f"{fname:24} {role:10} {label:6} {p50:8.2f} {p99:8.2f}"
                            f" {p50 / base50:7.1f}"
                        )
                        if label == "first" or role == "agent":
                            sql = _literal(session, filters, cursor)
                            plans.append((f"{fname} / {role} / {label}", await plan(session, sql)))
            for title, lines in plans:
                print(f"-- plan: {title}")
                for line in lines:
                    print(f"   {line}")
    finally:
        await engine.dispose()


@contextmanager
def database(server_url: str | None) -> Iterator[str]:
    """A throwaway database: a SQLite file in a temp dir, or one created on the server."""
    if server_url is None:
        with tempfile.TemporaryDirectory() as folder:
            yield f"sqlite:///{Path(folder) / 'bench.db'}"
        return
    name = f"bench_list_{uuid.uuid4().hex[:8]}"
    admin = make_sync_engine(server_url).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()


def main() -> None:
    """Parse arguments and run."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    with database(args.database_url) as url:
        asyncio.run(run(url, args.tickets, args.repeat))


if __name__ == "__main__":
    main()
