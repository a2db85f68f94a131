"""A ticket's SLA: its clocks, its priority and its wait for someone outside."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Body
from pydantic import BaseModel, Field

from api.deps import AccessDep, ActorDep, CallerDep, SessionDep
from api.problems import ProblemError
from api.schemas import (
    Strict,
    TransitionView,
)
from api.ticket_access import change_ticket, readable_ticket
from domain.definitions import ProcessDefinition
from domain.messages import PauseInput, ResumeInput, SetPriorityInput
from domain.sla import WAITING_PATTERN, Priority, SlaClock
from domain.sla_clocks import calendar_of, policy_of
from policies.authorization import (
    sees_stage_clocks,
)
from store import definitions as definitions_store
from store import sla as sla_store
from store.models import SlaClockRow, SlaEventRow


class SetPriorityRequest(Strict):
    """Change a ticket's priority."""

    priority: Priority
    reason: str = Field(default="", max_length=2000)


class PauseRequest(Strict):
    """Put a ticket on hold, waiting for someone outside."""

    reason: str = Field(pattern=WAITING_PATTERN, description="e.g. customer, supplier")
    note: str = Field(default="", max_length=2000)


class ResumeRequest(Strict):
    """End a ticket's wait."""

    note: str = Field(default="", max_length=2000)


class RungView(BaseModel):
    """One rung of a clock's ladder: when it fires (or fired)."""

    index: int
    name: str
    offset_seconds: float
    due_at: datetime | None
    fired_at: datetime | None
    actions: list[str]


class ClockView(BaseModel):
    """One SLA clock, computed at the moment of the request."""

    id: str
    stage: str | None
    round: int
    milestone: bool
    calendar: str
    state: str
    target_seconds: float
    elapsed_seconds: float
    remaining_seconds: float
    paused_seconds: float
    started_at: datetime
    due_at: datetime | None = Field(description="The deadline if the clock keeps running.")
    stopped_at: datetime | None
    breached_at: datetime | None
    rungs: list[RungView]


class TicketSlaView(BaseModel):
    """A ticket's priority, wait and clocks."""

    key: str
    priority: str | None = None  # absent when the caller may not read ticket.priority
    waiting_for: str | None
    as_of: datetime
    clocks: list[ClockView]


router = APIRouter(tags=["sla"])


@router.post("/tickets/{key}/priority", response_model=TransitionView, tags=["tickets"])
async def set_priority(key: str, body: SetPriorityRequest, caller: CallerDep) -> TransitionView:
    """Change the priority; SLA clocks keep their elapsed time against the new target."""
    payload = SetPriorityInput(actor=caller.actor, priority=body.priority, reason=body.reason)
    return await change_ticket(caller, key, "set_priority", payload)


@router.post("/tickets/{key}/pause", response_model=TransitionView, tags=["tickets"])
async def pause(key: str, body: PauseRequest, caller: CallerDep) -> TransitionView:
    """Put the ticket on hold (waiting for the customer, a supplier, ...)."""
    payload = PauseInput(actor=caller.actor, reason=body.reason, note=body.note)
    return await change_ticket(caller, key, "pause", payload)


# Ending a wait without a body leaves no note.
NO_NOTE = ResumeRequest()


@router.post("/tickets/{key}/resume", response_model=TransitionView, tags=["tickets"])
async def resume(
    key: str, caller: CallerDep, body: Annotated[ResumeRequest, Body()] = NO_NOTE
) -> TransitionView:
    """End the ticket's wait; paused clocks count on with the time left (no body: no note)."""
    payload = ResumeInput(actor=caller.actor, note=body.note)
    return await change_ticket(caller, key, "resume", payload)


def _clock_view(
    row: SlaClockRow, definition: ProcessDefinition, fired: list[SlaEventRow], now: datetime
) -> ClockView:
    clock = SlaClock(
        id=row.clock_id,
        stage=row.stage_key,
        round=row.round,
        milestone=row.milestone,
        calendar=row.calendar,
        target=timedelta(seconds=row.target_seconds),
        started_at=row.started_at,
        elapsed=timedelta(seconds=row.elapsed_seconds),
        running_since=row.running_since,
        paused_since=row.paused_since,
        paused=timedelta(seconds=row.paused_seconds),
        stopped_at=row.stopped_at,
        breached_at=row.breached_at,
        fired=row.fired,
    )
    calendar = calendar_of(definition, clock.calendar)
    policy = policy_of(definition, clock)
    elapsed = clock.elapsed_at(calendar, now)
    fired_at = {
        e.rung: e for e in fired if e.clock_id == clock.id and e.data.get("round") == clock.round
    }
    rungs = []
    for i, rung in enumerate(policy.ladder):
        event = fired_at.get(i)
        offset = rung.offset(clock.target)
        rungs.append(
            RungView(
                index=i,
                name=rung.name,
                offset_seconds=offset.total_seconds(),
                due_at=event.due_at if event else clock.instant_of(calendar, offset),
                fired_at=event.at if event else None,
                actions=[a.type for a in rung.actions],
            )
        )
    return ClockView(
        id=clock.id,
        stage=clock.stage,
        round=clock.round,
        milestone=clock.milestone,
        calendar=clock.calendar,
        state=clock.state().value,
        target_seconds=clock.target.total_seconds(),
        elapsed_seconds=elapsed.total_seconds(),
        remaining_seconds=(clock.target - elapsed).total_seconds(),
        paused_seconds=clock.paused_at(calendar, now).total_seconds(),
        started_at=clock.started_at,
        due_at=clock.deadline(calendar),
        stopped_at=clock.stopped_at,
        breached_at=clock.breached_at,
        rungs=rungs,
    )


@router.get("/tickets/{key}/sla", response_model=TicketSlaView, tags=["tickets"])
async def ticket_sla(
    key: str, session: SessionDep, actor: ActorDep, access: AccessDep
) -> TicketSlaView:
    """Every clock of the ticket as of now; requesters see the joint clock and milestones."""
    ticket, view = await readable_ticket(session=session, key=key, actor=actor, access=access)
    if not view.readable("sla"):
        raise ProblemError(403, f"you may not read ticket.sla of {key}")
    row = await definitions_store.get_definition(
        session=session, key=ticket.definition_key, version=ticket.definition_version
    )
    if row is None:
        raise ProblemError(500, f"definition {ticket.definition_key} is missing from the store")
    definition = ProcessDefinition.model_validate(row.document)
    clocks = await sla_store.ticket_clocks(session=session, key=key)
    if not sees_stage_clocks(actor.role):
        clocks = [c for c in clocks if c.milestone or c.clock_id == "ticket"]
    fired = await sla_store.fired_rungs(session=session, key=key)
    now = datetime.now(UTC)
    return TicketSlaView(
        key=key,
        priority=ticket.priority if view.readable("priority") else None,
        waiting_for=ticket.waiting_for,
        as_of=now,
        clocks=[_clock_view(c, definition, fired, now) for c in clocks],
    )
