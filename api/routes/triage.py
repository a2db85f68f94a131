"""Triage: a ticket's model suggestions, the dispatcher's decision, the registry and KPIs."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import AccessDep, ActorDep, CallerDep, SessionDep, require_roles
from api.playbook_views import PlaybookView, category_playbooks
from api.problems import ProblemError
from api.routes.problems import ProblemLink, ticket_problems
from api.schemas import TransitionView
from api.ticket_access import change_ticket, readable_ticket, ticket_views
from domain.recurrence import ticket_category
from domain.ticket import Actor
from domain.triage import DispatchInput
from policies.access import AccessControl
from policies.authorization import READ_KPIS, may_dispatch
from policies.derived import shown_triage_result
from store import triage as triage_store
from store.definitions import get_definition
from store.models import TicketEventRow, TicketRow, TriageOutcomeRow

router = APIRouter(tags=["triage"])
# Registry, queue and KPIs describe every team's work: not for requesters.
Reader = Annotated[Actor, Depends(require_roles(*READ_KPIS))]


class DispatchRequest(BaseModel):
    """A dispatcher's decision: the team, and optionally category and priority."""

    model_config = ConfigDict(extra="forbid")

    team: str = Field(min_length=1, max_length=100)
    category: str | None = Field(default=None, max_length=100)
    priority: str | None = Field(default=None, max_length=40)
    reason: str = Field(default="", max_length=2000)


class TriageView(BaseModel):
    """What triage decided for a ticket, with the model's suggestions and reasons."""

    key: str
    model_version: int | None
    routed: bool
    team: str | None
    final_team: str | None
    reassignments: int
    threshold: float | None
    result: dict[str, Any]
    triaged_at: datetime
    problems: list[ProblemLink] = Field(
        default_factory=list, description="Confirmed problems it belongs to or shows."
    )
    playbooks: list[PlaybookView] = Field(
        default_factory=list,
        description="Playbooks of the ticket's category, each as far as the caller may read it.",
    )


class ModelView(BaseModel):
    """One registered model version."""

    model_config = ConfigDict(from_attributes=True)

    version: int
    status: str
    created_at: datetime
    training_size: int
    sha256: str
    metrics: dict[str, Any]
    features: dict[str, Any]
    note: str


@router.get("/tickets/{key}/triage", response_model=TriageView)
async def ticket_triage(
    key: str, session: SessionDep, actor: ActorDep, access: AccessDep
) -> TriageView:
    """The triage decision of one ticket: team, confidence, top-3, weighing features.

    A feature is shown only when the caller may read every field it was derived from.
    """
    row, view = await readable_ticket(session=session, key=key, actor=actor, access=access)
    if not view.readable("triage"):
        raise ProblemError(403, f"you may not read ticket.triage of {key}")
    outcome = await session.get(TriageOutcomeRow, key)
    event = await session.scalar(
        select(TicketEventRow).where(
            TicketEventRow.ticket_key == key, TicketEventRow.type == "triaged"
        )
    )
    if outcome is None or event is None:
        raise ProblemError(404, f"ticket {key} has not been triaged")
    return TriageView(
        key=key,
        model_version=outcome.model_version,
        routed=outcome.auto_routed,
        team=outcome.first_team,
        final_team=outcome.final_team,
        reassignments=outcome.reassignments,
        threshold=event.data.get("threshold"),
        result=shown_triage_result(event.data.get("result", {}), row.intake, view),
        triaged_at=event.at,
        problems=await ticket_problems(session=session, ticket=row, view=view),
        playbooks=[
            PlaybookView.model_validate(p)
            for p in await category_playbooks(
                session=session,
                access=access,
                actor=actor,
                category=ticket_category(row.category, row.definition_key),
            )
        ],
    )


@router.post("/tickets/{key}/triage/dispatch", response_model=TransitionView)
async def dispatch(key: str, body: DispatchRequest, caller: CallerDep) -> TransitionView:
    """Send the ticket's routed stages to a team; recorded as a label with its reason.

    Whoever may see the ticket but is not its dispatcher is told whose decision it is.
    """
    row, view = await readable_ticket(
        session=caller.session, key=key, actor=caller.actor, access=caller.access
    )
    dispatcher = await _dispatcher_group(caller.session, row)
    if dispatcher is not None and not may_dispatch(
        caller.actor.role, caller.actor.department, dispatcher
    ):
        raise ProblemError(403, f"dispatching belongs to group {dispatcher!r}")
    payload = DispatchInput(actor=caller.actor, **body.model_dump())
    return await change_ticket(caller, key, "dispatch", payload, ticket=(row, view))


async def _dispatcher_group(session: AsyncSession, row: TicketRow) -> str | None:
    """The dispatcher group of the ticket's definition (None: no triage; the workflow answers)."""
    definition = await get_definition(
        session=session, key=row.definition_key, version=row.definition_version
    )
    triage = (definition.document if definition else {}).get("triage")
    group = triage.get("dispatcher_group") if isinstance(triage, dict) else None
    return group if isinstance(group, str) else None


class AwaitingView(BaseModel):
    """A ticket in manual triage and what the model suggested for it."""

    key: str
    definition_key: str
    triaged_at: datetime
    model_version: int | None
    suggestions: list[dict[str, Any]]
    top_features: list[dict[str, Any]]
    error: str


@router.get("/triage/queue", response_model=list[AwaitingView])
async def triage_queue(
    session: SessionDep,
    actor: Reader,
    access: AccessDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[AwaitingView]:
    """Open tickets waiting for a dispatcher, oldest first, with the model's suggestions.

    Only tickets the caller may see; the suggestions only where they may read ticket.triage,
    and each feature only where they may read the fields it was derived from.
    """
    queue: list[AwaitingView] = []
    offset = 0
    # Filled past tickets the caller may not see: a short page would count them.
    while len(queue) < limit:
        rows = await triage_store.awaiting_dispatch(session=session, limit=limit, offset=offset)
        queue += await _awaiting(session, access, actor, rows)
        if len(rows) < limit:
            break
        offset += len(rows)
    return queue[:limit]


async def _awaiting(
    session: AsyncSession,
    access: AccessControl,
    actor: Actor,
    rows: list[tuple[TicketRow, TriageOutcomeRow, dict[str, Any]]],
) -> list[AwaitingView]:
    """The entries among these the caller may see, as far as they may read them."""
    views = await ticket_views(
        session=session, access=access, actor=actor, rows=[ticket for ticket, _, _ in rows]
    )
    queue = []
    for (ticket, outcome, result), view in zip(rows, views, strict=True):
        if not view.visible():
            continue
        shown = shown_triage_result(result, ticket.intake, view) if view.readable("triage") else {}
        queue.append(
            AwaitingView(
                key=outcome.ticket_key,
                definition_key=outcome.definition_key,
                triaged_at=outcome.created_at,
                model_version=outcome.model_version,
                suggestions=shown.get("alternatives", []),
                top_features=shown.get("top_features", []),
                error=shown.get("error", ""),
            )
        )
    return queue


@router.get("/triage/models", response_model=list[ModelView])
async def triage_models(session: SessionDep, actor: Reader) -> list[ModelView]:
    """Every model version in the registry, newest first."""
    return [ModelView.model_validate(r) for r in await triage_store.list_models(session=session)]
