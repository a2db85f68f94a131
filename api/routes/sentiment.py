"""Sentiment: a customer's scored messages and purges, and the expedites they proposed.

A customer's records and purges are the customer field `sentiment` (confidential): callers who
may not read it are refused and see no score and no text. A ticket's proposals are its system
field `sentiment`; a proposal is decided by its supervisor group (or an admin), as an Update.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path
from fastapi.encoders import jsonable_encoder
from pydantic import BaseModel, ConfigDict, Field

from api.deps import AccessDep, ActorDep, CallerDep, SessionDep, SettingsDep, require_roles
from api.problems import ProblemError
from api.routes.customers import CustomerId
from api.schemas import TransitionView
from api.ticket_access import change_ticket, readable_ticket
from domain.messages import ExpediteDecisionInput
from domain.problems import Problem
from domain.sentiment import Decision
from domain.ticket import Actor
from policies.authorization import READ_CUSTOMERS
from policies.customers import customer_domain, customer_view, redact_sentiment
from services.sentiment import customer_sentiment, proposals_of
from store import customers as customer_store
from store import sentiment as store
from store.models import TicketRow

router = APIRouter(tags=["sentiment"])
Reader = Annotated[Actor, Depends(require_roles(*READ_CUSTOMERS))]
PROPOSAL_PATTERN = r"^E[1-9][0-9]{0,5}$"


class RecordView(BaseModel):
    """A message taken for scoring, with its score once scored; gone after its purge."""

    id: int
    ticket_key: str | None = None
    source: str | None = None
    text: str | None = None
    taken_at: datetime | None = None
    purge_at: datetime | None = None
    label: str | None = None
    confidence: float | None = None
    probabilities: dict[str, float] | None = None
    model_version: int | None = None
    scored_at: datetime | None = None


class PurgeView(BaseModel):
    """A purge: why, when, how many records and which (ids and when they were taken)."""

    id: int
    reason: str | None = None
    at: datetime | None = None
    deleted: int | None = None
    scored: int | None = None
    record_ids: list[int] | None = None
    taken_at: list[str] | None = None


class SentimentView(BaseModel):
    """A customer's sentiment records and the purges of them."""

    records: list[RecordView] = Field(default_factory=list)
    purges: list[PurgeView] = Field(default_factory=list)


class ProposalView(BaseModel):
    """An expedite proposed on the ticket, with the score behind it while it is kept."""

    id: str
    status: str
    proposed_at: datetime
    record: int | None = None
    group: str | None = None
    priority_from: str | None = None
    priority_to: str | None = None
    decided_at: datetime | None = None
    decided_by: str | None = None
    reason: str | None = None
    label: str | None = Field(default=None, description="Only while the record is kept.")
    confidence: float | None = None


class DecisionRequest(BaseModel):
    """Confirm (priority up, a task for the supervisor group) or decline a proposal."""

    model_config = ConfigDict(extra="forbid")

    decision: Decision
    reason: str = Field(default="", max_length=2000)


def _refused(what: str) -> ProblemError:
    return ProblemError(
        403,
        f"you may not read {what}",
        problems=[Problem(pointer="/sentiment", detail=f"may not read {what}")],
    )


@router.get("/customers/{customer_id}/sentiment", response_model=SentimentView)
async def sentiment_of_customer(
    customer_id: CustomerId,
    session: SessionDep,
    actor: Reader,
    settings: SettingsDep,
    access: AccessDep,
) -> dict[str, Any]:
    """The customer's messages with their scores, and every purge (ids and times, no text).

    403 for callers who may see the customer but not `customer.sentiment`.
    """
    row = await customer_store.get_customer(session=session, customer_id=customer_id)
    view = None
    if row is not None:
        view = customer_view(
            access,
            user=actor.user,
            role=actor.role,
            home=actor.department,
            domain=customer_domain(settings.care_department, row.region),
        )
    if row is None or view is None or not view.visible():
        raise ProblemError(404, f"no customer {customer_id}")
    if not view.readable("sentiment"):
        raise _refused("customer.sentiment")
    document = jsonable_encoder(await customer_sentiment(session=session, customer_id=row.id))
    return redact_sentiment(document, view)


async def _scores_shown(
    session: SessionDep, row: TicketRow, actor: Actor, access: AccessDep, settings: SettingsDep
) -> dict[int, tuple[str | None, float | None]]:
    """The label and confidence of the ticket's records, if the caller reads the customer's
    sentiment; else none."""
    customer_id = row.intake.get("customer_id")
    if not isinstance(customer_id, str):
        return {}
    customer = await customer_store.get_customer(session=session, customer_id=customer_id)
    if customer is None:
        return {}
    view = customer_view(
        access,
        user=actor.user,
        role=actor.role,
        home=actor.department,
        domain=customer_domain(settings.care_department, customer.region),
    )
    if not view.readable("sentiment"):
        return {}
    records = await store.records_of(session=session, customer_id=customer_id, ticket_key=row.key)
    return {r.id: (r.label, r.confidence) for r in records}


@router.get("/tickets/{key}/expedites", response_model=list[ProposalView])
async def ticket_expedites(
    key: str, session: SessionDep, actor: ActorDep, access: AccessDep, settings: SettingsDep
) -> list[ProposalView]:
    """The expedites the customer's sentiment proposed on this ticket, and their decisions.

    For callers who may read ticket.sentiment; the score behind a proposal is shown only to
    callers who may read the customer's sentiment, and only until it is purged.
    """
    row, view = await readable_ticket(session=session, key=key, actor=actor, access=access)
    if not view.readable("sentiment"):
        raise _refused("ticket.sentiment")
    proposals = await proposals_of(session=session, key=key)
    scores = await _scores_shown(session, row, actor, access, settings)
    shown = []
    for proposal in proposals:
        label, confidence = scores.get(proposal.get("record") or -1, (None, None))
        shown.append(ProposalView(**proposal, label=label, confidence=confidence))
    return shown


@router.post("/tickets/{key}/expedites/{proposal}", response_model=TransitionView)
async def decide_expedite(
    key: str,
    proposal: Annotated[str, Path(pattern=PROPOSAL_PATTERN, description="E1, E2, ...")],
    body: DecisionRequest,
    caller: CallerDep,
) -> TransitionView:
    """Confirm or decline a proposal: its supervisor group's agents and admins (an Update).

    Confirming raises the priority one step and opens a follow-up task for the group.
    """
    ticket = await readable_ticket(
        session=caller.session, key=key, actor=caller.actor, access=caller.access
    )
    if not ticket[1].readable("sentiment"):
        raise _refused("ticket.sentiment")
    payload = ExpediteDecisionInput(
        actor=caller.actor, proposal=proposal, decision=body.decision, reason=body.reason
    )
    return await change_ticket(caller, key, "decide_expedite", payload, ticket=ticket)
