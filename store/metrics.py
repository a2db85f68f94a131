"""What /metrics reads from the projections at scrape time: a handful of grouped counts."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Integer, cast, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import DeliveryAttemptRow, SlaClockRow, TicketRow, TriageOutcomeRow


@dataclass
class ProjectionFigures:
    """Counts by definition key, state and outcome only: no ticket's or person's data."""

    tickets: dict[tuple[str, str], int] = field(default_factory=dict)
    sla_breaches: dict[str, int] = field(default_factory=dict)
    triage_decisions: dict[str, int] = field(default_factory=dict)
    triage_auto_routed: dict[str, int] = field(default_factory=dict)
    deliveries: dict[str, int] = field(default_factory=dict)


async def projection_figures(*, session: AsyncSession) -> ProjectionFigures:
    """Tickets by definition and state, breached SLA clocks by definition, triage decisions and
    auto-routes by definition, delivery attempts by outcome: one grouped query each."""
    figures = ProjectionFigures()
    tickets = select(TicketRow.definition_key, TicketRow.status, func.count()).group_by(
        TicketRow.definition_key, TicketRow.status
    )
    for definition, state, count in await session.execute(tickets):
        figures.tickets[(definition, state)] = int(count)
    # A clock breaches once; its row keeps breached_at, so the count only grows.
    breaches = (
        select(TicketRow.definition_key, func.count())
        .select_from(SlaClockRow)
        .join(TicketRow, TicketRow.key == SlaClockRow.ticket_key)
        .where(SlaClockRow.breached_at.is_not(None))
        .group_by(TicketRow.definition_key)
    )
    for definition, count in await session.execute(breaches):
        figures.sla_breaches[definition] = int(count)
    triage = select(
        TriageOutcomeRow.definition_key,
        func.count(),
        func.coalesce(func.sum(cast(TriageOutcomeRow.auto_routed, Integer)), 0),
    ).group_by(TriageOutcomeRow.definition_key)
    for definition, decided, routed in await session.execute(triage):
        figures.triage_decisions[definition] = int(decided)
        figures.triage_auto_routed[definition] = int(routed)
    attempts = select(DeliveryAttemptRow.outcome, func.count()).group_by(DeliveryAttemptRow.outcome)
    for outcome, count in await session.execute(attempts):
        figures.deliveries[outcome] = int(count)
    return figures
