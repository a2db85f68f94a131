"""Service KPIs from the SQL projections (never from Temporal)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from api.deps import SessionDep, require_roles
from api.problems import ProblemError
from api.schemas import (
    DateTimeParam,
)
from domain.feedback import CsatSummary, NpsSummary
from domain.problems import Problem
from policies.authorization import READ_KPIS
from store.feedback import feedback_kpis
from store.kpis import KpiFilter, compute_kpis, quality_kpis
from store.triage import triage_kpis as triage_kpis_of


class Satisfaction(BaseModel):
    """CSAT and NPS of a set of rated tickets."""

    csat: CsatSummary
    nps: NpsSummary


class TeamSatisfaction(Satisfaction):
    """Of the tickets a team resolved (the group of the last stage done; null: none)."""

    team: str | None


class DefinitionSatisfaction(Satisfaction):
    """Of one definition's tickets."""

    definition: str


class PeriodSatisfaction(Satisfaction):
    """Of the ratings given in one UTC month (YYYY-MM)."""

    period: str


class FeedbackKpis(BaseModel):
    """Customer feedback (`POST /feedback/{token}`) on the tickets matching the filters."""

    overall: Satisfaction
    by_team: list[TeamSatisfaction]
    by_definition: list[DefinitionSatisfaction]
    by_period: list[PeriodSatisfaction]


class QualityFigures(BaseModel):
    """Whether fixes last: eradication, reopens and time to resolve, for a group of tickets."""

    tickets: int
    resolved: int
    mttr_seconds_avg: float | None = Field(description="Created to resolved, resolved tickets.")
    reopened: int = Field(description="Tickets reopened at least once.")
    reopen_rate: float | None = Field(description="Reopened ÷ tickets ever resolved.")
    watch_over: int = Field(description="Closed tickets whose 30-day recurrence watch is over.")
    eradicated: int = Field(description="Of those, the tickets with no recurrence.")
    recurred: int = Field(description="Of those, the tickets a new ticket recurred.")
    eradication_rate: float | None = Field(description="Eradicated ÷ watch_over.")


class CategoryQuality(QualityFigures):
    """The figures of one category (triage's, else the ticket's definition)."""

    category: str


class DepartmentQuality(QualityFigures):
    """The figures of one owning department."""

    department: str


class QualityReport(BaseModel):
    """Eradication rate, reopen rate and MTTR, overall and per category and department."""

    overall: QualityFigures
    by_category: list[CategoryQuality]
    by_department: list[DepartmentQuality]


class KpiReport(BaseModel):
    """Service KPIs over the tickets matching the filters (from the SQL projections)."""

    tickets: int
    first_response_seconds_avg: float | None
    first_responses: int
    mttr_seconds_avg: float | None
    resolved: int
    sla_met: int
    sla_breached: int
    sla_cancelled: int = Field(description="Clocks of cancelled tickets: not in the met rate.")
    sla_met_rate: float | None
    escalations_by_rung: list[dict[str, Any]]
    open_tickets_by_clock_state: dict[str, int]
    feedback: FeedbackKpis
    quality: QualityReport


router = APIRouter(tags=["kpis"], dependencies=[Depends(require_roles(*READ_KPIS))])


@router.get("/kpis", response_model=KpiReport)
async def kpis(
    session: SessionDep,
    definition: Annotated[str | None, Query(max_length=63)] = None,
    department: Annotated[str | None, Query(max_length=100)] = None,
    created_from: Annotated[DateTimeParam | None, Query(alias="from")] = None,
    created_to: Annotated[DateTimeParam | None, Query(alias="to")] = None,
) -> KpiReport:
    """First response, MTTR, SLA met/breached and rate, escalations by rung, open by clock state;
    customer feedback (CSAT, NPS) overall, by team, by definition and by month; and under
    `quality`, eradication rate, reopen rate and MTTR per category and department.

    Covers tickets created in [from, to) of a definition and/or owning department.
    """
    for name, value in (("from", created_from), ("to", created_to)):
        if value is not None and value.tzinfo is None:
            raise ProblemError(
                422,
                "times need a UTC offset",
                problems=[Problem(pointer=f"query:/{name}", detail="add Z or +HH:MM")],
            )
    filters = KpiFilter(
        definition_key=definition,
        department=department,
        created_from=created_from,
        created_to=created_to,
    )
    quality = await quality_kpis(session=session, filters=filters, now=datetime.now(UTC))
    return KpiReport(
        **await compute_kpis(session=session, filters=filters),
        feedback=FeedbackKpis(**await feedback_kpis(session=session, filters=filters)),
        quality=quality,
    )


@router.get("/kpis/triage")
async def triage_kpis(session: SessionDep) -> dict[str, Any]:
    """First-dispatch accuracy, per-team precision/recall/coverage, repeat-submission rate."""
    return await triage_kpis_of(session=session)
