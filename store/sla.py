"""Reading a ticket's SLA clocks and SLA events."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import SlaClockRow, SlaEventRow


async def ticket_clocks(*, session: AsyncSession, key: str) -> list[SlaClockRow]:
    """The ticket's clocks, joint clock first."""
    rows = await session.scalars(
        select(SlaClockRow).where(SlaClockRow.ticket_key == key).order_by(SlaClockRow.clock_id)
    )
    return sorted(rows.all(), key=lambda r: (r.clock_id != "ticket", r.clock_id))


async def fired_rungs(*, session: AsyncSession, key: str) -> list[SlaEventRow]:
    """The ticket's fired rungs, in order."""
    rows = await session.scalars(
        select(SlaEventRow)
        .where(SlaEventRow.ticket_key == key, SlaEventRow.type == "sla_rung_fired")
        .order_by(SlaEventRow.seq)
    )
    return list(rows.all())
