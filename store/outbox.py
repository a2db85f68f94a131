"""The outbox: ticket events queued for the subscriptions, read in the order they were written."""

from __future__ import annotations

from datetime import datetime
from functools import cache

from sqlalchemy import Table, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import Insert

from domain.events_out import OutboxItem
from store.models import OutboxRow, TicketEventRow


async def outbox_after(*, session: AsyncSession, after: int, limit: int) -> list[OutboxItem]:
    """At most `limit` outbox rows past `after`, by position."""
    rows = await session.scalars(
        select(OutboxRow)
        .where(OutboxRow.position > after)
        .order_by(OutboxRow.position)
        .limit(limit)
    )
    return [
        OutboxItem(position=r.position, ticket_key=r.ticket_key, seq=r.seq, type=r.type)
        for r in rows
    ]


async def outbox_head(*, session: AsyncSession) -> int:
    """The last position written (0 for an empty outbox): where a new subscription starts."""
    return int(await session.scalar(select(func.coalesce(func.max(OutboxRow.position), 0))) or 0)


async def outbound_events(
    *, session: AsyncSession, ticket_key: str, seqs: list[int]
) -> dict[int, TicketEventRow]:
    """The ticket events these outbox rows of one ticket stand for, by seq."""
    rows = await session.scalars(
        select(TicketEventRow).where(
            TicketEventRow.ticket_key == ticket_key, TicketEventRow.seq.in_(seqs)
        )
    )
    return {r.seq: r for r in rows}


@cache
def _outbox_upsert(dialect: str) -> Insert:
    """Queue an event once; sent again, it keeps its position and takes the later values."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table: Table = OutboxRow.__table__  # type: ignore[assignment]
    statement = insert(table)
    return statement.on_conflict_do_update(
        index_elements=["ticket_key", "seq"],
        set_={"type": statement.excluded.type, "at": statement.excluded.at},
    )


# Any constant: the lock's name among this database's advisory locks.
_OUTBOX_LOCK = 0x7466_6F62


async def queue_outbound(
    *, session: AsyncSession, key: str, events: list[tuple[int, str, datetime]]
) -> None:
    """Put events (seq, type, at) in the outbox, in seq order, for the subscriptions.

    A reader follows the outbox by position, so positions must become visible in the order
    they were handed out. PostgreSQL hands out a sequence's numbers before commit, so writers
    take turns (a lock held from here to the commit, the end of this transaction); SQLite has
    one writer at a time anyway.
    """
    if not events:
        return
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(select(func.pg_advisory_xact_lock(_OUTBOX_LOCK)))
    rows = [
        {"ticket_key": key, "seq": seq, "type": type_, "at": at}
        for seq, type_, at in sorted(events, key=lambda e: e[0])
    ]
    await session.execute(_outbox_upsert(session.get_bind().dialect.name), rows)
