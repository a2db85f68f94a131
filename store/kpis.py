"""Service KPIs computed in SQL over the ticket, event and SLA projections."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import SlaClockRow, SlaEventRow, TicketEventRow, TicketRow

# What counts as the first response: someone other than the requester acting on the ticket.
RESPONSE_EVENTS = ("task_claimed", "comment_added", "task_completed", "waiting_started")


@dataclass(frozen=True)
class KpiFilter:
    """Which tickets the KPIs cover (None: no restriction)."""

    definition_key: str | None = None
    department: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None


def _where(filters: KpiFilter) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if filters.definition_key:
        conditions.append(TicketRow.definition_key == filters.definition_key)
    if filters.department:
        conditions.append(TicketRow.department == filters.department)
    if filters.created_from:
        conditions.append(TicketRow.created_at >= filters.created_from)
    if filters.created_to:
        conditions.append(TicketRow.created_at < filters.created_to)
    return conditions


def kpi_conditions(filters: KpiFilter) -> list[ColumnElement[bool]]:
    """The conditions on `tickets` that the filters set, for KPIs kept in other modules."""
    return _where(filters)


def _seconds(session: AsyncSession, start: Any, end: Any) -> ColumnElement[Any]:
    """end - start in seconds, in the dialect's own date arithmetic."""
    if session.get_bind().dialect.name == "postgresql":
        return func.extract("epoch", end - start)
    return (func.julianday(end) - func.julianday(start)) * 86400.0


def _tickets(filters: KpiFilter) -> Select[Any]:
    return select(TicketRow.key).where(*_where(filters))


async def compute_kpis(*, session: AsyncSession, filters: KpiFilter) -> dict[str, Any]:
    """First response, MTTR, SLA met/breached, escalations by rung, open tickets by clock state."""
    where = _where(filters)
    tickets = await session.scalar(select(func.count()).select_from(TicketRow).where(*where)) or 0

    first = (
        select(
            TicketEventRow.ticket_key.label("key"), func.min(TicketEventRow.at).label("first_at")
        )
        .join(TicketRow, TicketRow.key == TicketEventRow.ticket_key)
        .where(
            TicketEventRow.type.in_(RESPONSE_EVENTS),
            TicketEventRow.actor != TicketRow.requester,
            *where,
        )
        .group_by(TicketEventRow.ticket_key)
        .subquery()
    )
    response = (
        await session.execute(
            select(
                func.avg(_seconds(session, TicketRow.created_at, first.c.first_at)),
                func.count(),
            ).join(first, first.c.key == TicketRow.key)
        )
    ).one()

    mttr = (
        await session.execute(
            select(
                func.avg(_seconds(session, TicketRow.created_at, TicketRow.resolved_at)),
                func.count(),
            ).where(TicketRow.resolved_at.is_not(None), *where)
        )
    ).one()

    outcome = dict(
        (
            await session.execute(
                select(SlaClockRow.state, func.count())
                .where(
                    SlaClockRow.stopped_at.is_not(None),
                    SlaClockRow.ticket_key.in_(_tickets(filters)),
                )
                .group_by(SlaClockRow.state)
            )
        ).all()
    )
    met, breached = int(outcome.get("met", 0)), int(outcome.get("breached", 0))

    rungs = (
        await session.execute(
            select(SlaEventRow.clock_id, SlaEventRow.rung, func.count())
            .where(
                SlaEventRow.type == "sla_rung_fired",
                SlaEventRow.ticket_key.in_(_tickets(filters)),
            )
            .group_by(SlaEventRow.clock_id, SlaEventRow.rung)
            .order_by(SlaEventRow.clock_id, SlaEventRow.rung)
        )
    ).all()

    open_states = dict(
        (
            await session.execute(
                select(SlaClockRow.state, func.count())
                .join(
                    TicketRow,
                    and_(TicketRow.key == SlaClockRow.ticket_key, SlaClockRow.clock_id == "ticket"),
                )
                .where(TicketRow.status == "open", *where)
                .group_by(SlaClockRow.state)
            )
        ).all()
    )
    return {
        "tickets": int(tickets),
        "first_response_seconds_avg": _float(response[0]),
        "first_responses": int(response[1]),
        "mttr_seconds_avg": _float(mttr[0]),
        "resolved": int(mttr[1]),
        "sla_met": met,
        "sla_breached": breached,
        "sla_cancelled": int(outcome.get("cancelled", 0)),
        "sla_met_rate": met / (met + breached) if met + breached else None,
        "escalations_by_rung": [
            {"clock": clock, "rung": rung, "count": int(count)} for clock, rung, count in rungs
        ],
        "open_tickets_by_clock_state": {str(k): int(v) for k, v in open_states.items()},
    }


def _float(value: Any) -> float | None:
    return None if value is None else round(float(value), 3)
