"""Inbound events per connector: each event id once, and the ticket its correlation went to."""

from __future__ import annotations

from sqlalchemy import Table, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from domain.ticket import FINAL_TICKET
from store.models import InboundEventRow, TicketRow

_ENDED = [s.value for s in FINAL_TICKET]


async def seen_event(
    *, session: AsyncSession, connector: str, event_id: str
) -> InboundEventRow | None:
    """The record of this event if the connector received it before."""
    return await session.get(InboundEventRow, (connector, event_id))


async def open_ticket_for(*, session: AsyncSession, connector: str, correlation: str) -> str | None:
    """The latest ticket this correlation key went to, if it has not ended."""
    query = (
        select(InboundEventRow.ticket_key)
        .join(TicketRow, TicketRow.key == InboundEventRow.ticket_key)
        .where(
            InboundEventRow.connector == connector,
            InboundEventRow.correlation == correlation,
            TicketRow.status.not_in(_ENDED),
        )
        .order_by(InboundEventRow.received_at.desc())
        .limit(1)
    )
    key: str | None = await session.scalar(query)
    return key


async def record_event(*, session: AsyncSession, row: InboundEventRow) -> bool:
    """Record an event unless its id is recorded already; whether this call recorded it.

    The primary key (connector, event id) decides between concurrent deliveries of one event.
    """
    table = InboundEventRow.__table__
    assert isinstance(table, Table)
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    values = {
        "connector": row.connector,
        "event_id": row.event_id,
        "correlation": row.correlation,
        "ticket_key": row.ticket_key,
        "action": row.action,
        "received_at": row.received_at,
    }
    inserted = await session.scalars(
        insert.values(values).on_conflict_do_nothing().returning(InboundEventRow.event_id)
    )
    return inserted.first() is not None
