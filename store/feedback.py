"""Customer feedback rows and the CSAT/NPS KPIs summed over them in SQL."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, case, func, literal_column, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from domain.feedback import (
    DETRACTOR_UP_TO,
    PROMOTER_FROM,
    SATISFIED_FROM,
    Solution,
    Tally,
    csat_summary,
    nps_summary,
)
from store.kpis import KpiFilter, kpi_conditions
from store.models import FeedbackRow, TicketRow


async def insert_feedback(
    *,
    session: AsyncSession,
    ticket_key: str,
    csat: int,
    nps: int,
    comment: str | None,
    solution: Solution,
    given_at: datetime,
    idempotency_sha256: str | None,
    request_sha256: str,
) -> FeedbackRow:
    """Store a ticket's rating (an IntegrityError when the ticket has one already)."""
    row = FeedbackRow(
        ticket_key=ticket_key,
        csat=csat,
        nps=nps,
        comment=comment,
        given_at=given_at,
        stage=solution.stage,
        team=solution.team,
        deliverables={k: v.model_dump() for k, v in solution.deliverables.items()},
        playbook=solution.playbook,
        idempotency_sha256=idempotency_sha256,
        request_sha256=request_sha256,
    )
    session.add(row)
    await session.flush()
    return row


async def get_feedback(*, session: AsyncSession, ticket_key: str) -> FeedbackRow | None:
    """A ticket's rating, if it was rated."""
    return await session.get(FeedbackRow, ticket_key)


def _month(session: AsyncSession) -> ColumnElement[str]:
    """The UTC month a rating was given, YYYY-MM, in the dialect's own date functions."""
    # Literals, not parameters: PostgreSQL matches the GROUP BY to the selected expression by
    # its text, and two bound parameters never match.
    if session.get_bind().dialect.name == "postgresql":
        utc = func.timezone(literal_column("'UTC'"), FeedbackRow.given_at)
        return func.to_char(utc, literal_column("'YYYY-MM'"))
    return func.strftime(literal_column("'%Y-%m'"), FeedbackRow.given_at)


def _counted(value: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((value, 1), else_=0)), 0)


def _tallies() -> tuple[ColumnElement[Any], ...]:
    """The columns of a domain Tally, in its order."""
    return (
        func.count(),
        func.coalesce(func.sum(FeedbackRow.csat), 0),
        _counted(FeedbackRow.csat >= SATISFIED_FROM),
        _counted(FeedbackRow.nps >= PROMOTER_FROM),
        _counted(FeedbackRow.nps <= DETRACTOR_UP_TO),
    )


def _summary(counts: Tally) -> dict[str, Any]:
    return {
        "csat": csat_summary(counts).model_dump(),
        "nps": nps_summary(counts).model_dump(),
    }


async def feedback_kpis(*, session: AsyncSession, filters: KpiFilter) -> dict[str, Any]:
    """CSAT and NPS of the rated tickets matching the filters: overall, by team (the resolving
    stage's group), by definition and by the UTC month the rating was given."""
    base = (
        select(*_tallies())
        .select_from(FeedbackRow)
        .join(TicketRow, TicketRow.key == FeedbackRow.ticket_key)
    )
    base = base.where(*kpi_conditions(filters))
    overall = Tally(*(int(v) for v in (await session.execute(base)).one()))
    groups: dict[str, ColumnElement[Any] | InstrumentedAttribute[Any]] = {
        "team": FeedbackRow.team,
        "definition": TicketRow.definition_key,
        "period": _month(session),
    }
    report: dict[str, Any] = {"overall": _summary(overall)}
    for name, column in groups.items():
        rows = await session.execute(
            base.add_columns(column.label(name)).group_by(column).order_by(column.is_(None), column)
        )
        report[f"by_{name}"] = [
            {name: row[-1], **_summary(Tally(*(int(v) for v in row[:-1])))} for row in rows
        ]
    return report
