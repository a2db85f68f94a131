"""Reading the outbox: the ticket events after a position, in the order they were written."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

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
