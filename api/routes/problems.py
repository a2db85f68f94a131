"""Problem records: candidates from co-occurring symptoms, confirmed or dismissed by people.

A record is derived from its tickets' titles and intake, so it is shown as far as they are:
the tickets the caller may see, the terms only when the caller may read the title of every
linked ticket, an asset value only when they may read that field of every ticket it came from.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from api.deps import AccessDep, SessionDep, require_roles
from api.problems import ProblemError
from api.schemas import Strict, redactable
from api.ticket_access import ticket_views
from domain.problem_candidates import ProblemCandidate, matches
from domain.ticket import Actor
from policies.access import AccessControl
from policies.authorization import DECIDE_PROBLEMS, READ_PROBLEMS
from policies.derived import title_readable
from policies.redaction import FieldView
from services.problems import NotProposed, decide
from store import problems as store
from store.models import ProblemRow, TicketRow
from store.tickets import get_tickets

router = APIRouter(tags=["problems"])
Reader = Annotated[Actor, Depends(require_roles(*READ_PROBLEMS))]
Decider = Annotated[Actor, Depends(require_roles(*DECIDE_PROBLEMS))]
ProblemId = Annotated[int, Path(ge=1, le=2**31 - 1, description="The problem's id.")]


class PairView(BaseModel):
    """Two terms seen in different tickets of the same windows; the terms as far as shown."""

    model_config = ConfigDict(json_schema_extra=redactable("support", "lift", "p_value"))

    first: str
    second: str
    support: int
    lift: float
    p_value: float


class ProblemView(BaseModel):
    """A problem record, redacted for the caller."""

    id: int
    status: str = Field(description="proposed, confirmed or dismissed")
    proposed_at: datetime
    updated_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    reason: str | None
    pairs: list[PairView]
    terms: list[str] = Field(description="Empty when the caller may not read every title.")
    tickets: list[str] = Field(description="The linked tickets the caller may see.")
    hidden_tickets: int = Field(description="Linked tickets the caller may not see.")
    assets: dict[str, list[str]]


class ProblemPage(BaseModel):
    """Problems newest first; pass `next_cursor` as `cursor` for the next page."""

    items: list[ProblemView]
    next_cursor: str | None


class DecisionRequest(Strict):
    """Why a problem is confirmed or dismissed."""

    reason: str = Field(default="", max_length=2000)


class ProblemLink(BaseModel):
    """A confirmed problem a ticket belongs to, or shows the symptoms of (details: /problems)."""

    id: int
    linked_tickets: int
    confirmed_at: datetime | None


def problem_link(row: ProblemRow) -> ProblemLink:
    """What a ticket's detail or triage answer says of a confirmed problem."""
    return ProblemLink(
        id=row.id, linked_tickets=len(row.candidate["tickets"]), confirmed_at=row.decided_at
    )


def _shown_assets(
    assets: Mapping[str, list[str]],
    intakes: Mapping[str, Mapping[str, Any]],
    views: Mapping[str, FieldView],
) -> dict[str, list[str]]:
    shown: dict[str, list[str]] = {}
    for name, values in assets.items():
        kept = [
            value
            for value in values
            if all(
                key in views and views[key].readable(name)
                for key, intake in intakes.items()
                if intake.get(name) == value
            )
        ]
        if kept:
            shown[name] = kept
    return shown


async def _views(
    session: SessionDep, access: AccessControl, actor: Actor, rows: list[ProblemRow]
) -> list[ProblemView]:
    keys = sorted({k for row in rows for k in row.candidate["tickets"]})
    tickets = await get_tickets(session=session, keys=keys)
    field_views = await ticket_views(session=session, access=access, actor=actor, rows=tickets)
    views = {t.key: v for t, v in zip(tickets, field_views, strict=True) if v.visible()}
    intakes = {t.key: t.intake for t in tickets}
    shown = []
    for row in rows:
        candidate = ProblemCandidate.model_validate(row.candidate)
        linked = candidate.tickets
        terms_shown = all(k in views and title_readable(intakes[k], views[k]) for k in linked)
        own_intakes = {k: intakes[k] for k in linked if k in intakes}
        shown.append(
            ProblemView(
                id=row.id,
                status=row.status,
                proposed_at=row.proposed_at,
                updated_at=row.updated_at,
                decided_by=row.decided_by,
                decided_at=row.decided_at,
                reason=row.reason,
                pairs=[
                    PairView(
                        first=p.first if terms_shown else "",
                        second=p.second if terms_shown else "",
                        support=p.support,
                        lift=p.lift,
                        p_value=p.p_value,
                    )
                    for p in candidate.pairs
                ],
                terms=candidate.terms if terms_shown else [],
                tickets=[k for k in linked if k in views],
                hidden_tickets=sum(1 for k in linked if k not in views),
                assets=_shown_assets(candidate.assets, own_intakes, views),
            )
        )
    return shown


@router.get("/problems", response_model=ProblemPage)
async def list_problems(
    session: SessionDep,
    actor: Reader,
    access: AccessDep,
    status: Annotated[str | None, Query(pattern="^(proposed|confirmed|dismissed)$")] = None,
    cursor: Annotated[str | None, Query(pattern="^[0-9]{1,9}$")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> ProblemPage:
    """Problem records newest first, optionally of one status."""
    rows = await store.list_problems(
        session=session, status=status, after=int(cursor) if cursor else None, limit=limit
    )
    following = str(rows[-1].id) if len(rows) == limit else None
    return ProblemPage(items=await _views(session, access, actor, rows), next_cursor=following)


@router.get("/problems/{problem_id}", response_model=ProblemView)
async def get_problem(
    problem_id: ProblemId, session: SessionDep, actor: Reader, access: AccessDep
) -> ProblemView:
    """One problem record."""
    row = await store.get_problem(session=session, problem_id=problem_id)
    if row is None:
        raise ProblemError(404, f"no problem {problem_id}")
    (view,) = await _views(session, access, actor, [row])
    return view


async def _decide(
    problem_id: int,
    body: DecisionRequest,
    session: SessionDep,
    actor: Actor,
    access: AccessControl,
    *,
    confirm: bool,
) -> ProblemView:
    row = await store.get_problem(session=session, problem_id=problem_id)
    if row is None:
        raise ProblemError(404, f"no problem {problem_id}")
    try:
        await decide(
            session=session,
            row=row,
            confirm=confirm,
            actor=actor.user,
            reason=body.reason,
            now=datetime.now(UTC),
        )
    except NotProposed as exc:
        raise ProblemError(409, f"problem {problem_id} is {exc} already") from None
    await session.commit()
    (view,) = await _views(session, access, actor, [row])
    return view


@router.post("/problems/{problem_id}/confirm", response_model=ProblemView)
async def confirm_problem(
    problem_id: ProblemId,
    session: SessionDep,
    actor: Decider,
    access: AccessDep,
    body: DecisionRequest | None = None,
) -> ProblemView:
    """Confirm a proposed problem: its tickets and new ones showing its symptoms list it."""
    return await _decide(
        problem_id, body or DecisionRequest(), session, actor, access, confirm=True
    )


@router.post("/problems/{problem_id}/dismiss", response_model=ProblemView)
async def dismiss_problem(
    problem_id: ProblemId,
    session: SessionDep,
    actor: Decider,
    access: AccessDep,
    body: DecisionRequest | None = None,
) -> ProblemView:
    """Dismiss a proposed problem: later scans leave it dismissed."""
    return await _decide(
        problem_id, body or DecisionRequest(), session, actor, access, confirm=False
    )


async def ticket_problems(
    *, session: SessionDep, ticket: TicketRow, view: FieldView
) -> list[ProblemLink]:
    """The confirmed problems a ticket is linked to, and those whose symptoms its title shows
    (matched only when the caller may read the title)."""
    linked = {
        row.id: row for row in await store.problems_of_ticket(session=session, key=ticket.key)
    }
    if title_readable(ticket.intake, view):
        for row in await store.confirmed_problems(session=session):
            if row.id not in linked and matches(ticket.title, row.candidate["terms"]):
                linked[row.id] = row
    return [problem_link(row) for _id, row in sorted(linked.items())]
