"""Service KPIs computed in SQL over the ticket, event, SLA and recurrence projections."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, distinct, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import RecurrenceWatchRow, SlaClockRow, SlaEventRow, TicketEventRow, TicketRow

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


@dataclass
class _Outcomes:
    """What the quality KPIs count for one group of tickets."""

    tickets: int = 0
    resolved: int = 0
    resolved_seconds: float = 0.0
    ever_resolved: int = 0
    reopened: int = 0
    watch_over: int = 0
    recurred: int = 0

    def add(self, other: _Outcomes) -> None:
        for name in vars(self):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def report(self) -> dict[str, Any]:
        eradicated = self.watch_over - self.recurred
        return {
            "tickets": self.tickets,
            "resolved": self.resolved,
            "mttr_seconds_avg": _float(self.resolved_seconds / self.resolved)
            if self.resolved
            else None,
            "reopened": self.reopened,
            "reopen_rate": _rate(self.reopened, self.ever_resolved),
            "watch_over": self.watch_over,
            "eradicated": eradicated,
            "recurred": self.recurred,
            "eradication_rate": _rate(eradicated, self.watch_over),
        }


async def _outcomes_by(
    session: AsyncSession, group: ColumnElement[Any], filters: KpiFilter, now: datetime
) -> dict[str, _Outcomes]:
    """The counts per value of `group` (a ticket column or expression)."""
    where = _where(filters)
    found: dict[str, _Outcomes] = {}

    def of(key: Any) -> _Outcomes:
        return found.setdefault(str(key), _Outcomes())

    for key, tickets, resolved, seconds in await session.execute(
        select(
            group,
            func.count(),
            func.count(TicketRow.resolved_at),
            func.sum(_seconds(session, TicketRow.created_at, TicketRow.resolved_at)),
        )
        .where(*where)
        .group_by(group)
    ):
        outcome = of(key)
        outcome.tickets, outcome.resolved = int(tickets), int(resolved)
        outcome.resolved_seconds = float(seconds or 0.0)
    # A reopened ticket was resolved before: both are counted once per ticket, however often.
    for key, type_, count in await session.execute(
        select(group, TicketEventRow.type, func.count(distinct(TicketEventRow.ticket_key)))
        .join(TicketRow, TicketRow.key == TicketEventRow.ticket_key)
        .where(TicketEventRow.type.in_(("resolved", "reopened")), *where)
        .group_by(group, TicketEventRow.type)
    ):
        if type_ == "resolved":
            of(key).ever_resolved = int(count)
        else:
            of(key).reopened = int(count)
    # Only watches whose 30 days are over have an outcome to count: no recurrence by then is
    # an eradication (its `eradicated` event may still be on its way).
    for key, over, recurred in await session.execute(
        select(
            group,
            func.count(),
            func.count(case((RecurrenceWatchRow.status == "recurred", 1))),
        )
        .join(TicketRow, TicketRow.key == RecurrenceWatchRow.ticket_key)
        .where(RecurrenceWatchRow.ends_at <= now, *where)
        .group_by(group)
    ):
        of(key).watch_over, of(key).recurred = int(over), int(recurred)
    return found


async def quality_kpis(
    *, session: AsyncSession, filters: KpiFilter, now: datetime
) -> dict[str, Any]:
    """Eradication rate, reopen rate and MTTR: overall, per category and per department.

    Eradication rate: of the closed tickets whose 30-day watch is over at `now`, the share
    with no recurrence. Reopen rate: of the tickets ever resolved, the share reopened at least
    once. MTTR: created to (last) resolved, over the tickets resolved now. A ticket's category
    is its triage category, else its definition (rows from before categories: the definition).
    """
    category = func.coalesce(TicketRow.category, TicketRow.definition_key)
    by_category = await _outcomes_by(session, category, filters, now)
    department = TicketRow.__table__.c.department
    by_department = await _outcomes_by(session, department, filters, now)
    overall = _Outcomes()
    for outcome in by_category.values():
        overall.add(outcome)
    return {
        "overall": overall.report(),
        "by_category": [
            {"category": key, **value.report()} for key, value in sorted(by_category.items())
        ],
        "by_department": [
            {"department": key, **value.report()} for key, value in sorted(by_department.items())
        ],
    }


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None
