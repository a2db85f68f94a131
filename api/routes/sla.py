"""SLA: business calendars, a ticket's clocks, its priority and wait, and notifications."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import AccessDep, ActorDep, CallerDep, SessionDep, require_roles
from api.params import Version
from api.problems import ProblemError
from api.routes.definitions import _document
from api.schemas import (
    DateTimeParam,
    Strict,
    TransitionView,
)
from api.ticket_access import change_ticket, readable_ticket, ticket_views
from domain.calendars import ALWAYS_CALENDAR
from domain.definitions import ProcessDefinition
from domain.messages import PauseInput, ResumeInput, SetPriorityInput
from domain.problems import Rejected
from domain.sla import WAITING_PATTERN, Priority, SlaClock
from domain.sla_clocks import calendar_of, policy_of
from domain.ticket import Actor
from policies.access import AccessControl
from policies.authorization import (
    PUBLISH,
    may_read_notifications_of,
    sees_stage_clocks,
)
from policies.notifications import Stored, render_notification
from services.sla_publishing import publish_calendar
from store import calendars as calendars_store
from store import definitions as definitions_store
from store import sla as sla_store
from store import tickets as tickets_store
from store.models import CalendarRow, NotificationRow, SlaClockRow, SlaEventRow
from store.notifications import list_notifications


class CalendarSummary(BaseModel):
    """A published calendar version (or the built-in 24x7)."""

    key: str
    version: int
    ref: str
    title: str
    timezone: str
    published_at: datetime | None = None
    published_by: str | None = None


class CalendarDetail(CalendarSummary):
    """A calendar version with its full document."""

    document: dict[str, Any]


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


class NotificationView(BaseModel):
    """A notification to one recipient."""

    model_config = ConfigDict(from_attributes=True)

    ticket_key: str
    seq: int
    recipient: str
    subject: str
    body: str
    channel: str
    status: str
    created_at: datetime


router = APIRouter(tags=["sla"])
Publisher = Annotated[Actor, Depends(require_roles(*PUBLISH))]


def _calendar(row: CalendarRow) -> CalendarDetail:
    return CalendarDetail(
        key=row.key,
        version=row.version,
        ref=f"{row.key}@{row.version}",
        title=row.title,
        timezone=row.timezone,
        published_at=row.published_at,
        published_by=row.published_by,
        document=row.document,
    )


BUILT_IN = CalendarDetail(
    key=ALWAYS_CALENDAR.key,
    version=0,
    ref=ALWAYS_CALENDAR.ref,
    title=ALWAYS_CALENDAR.title,
    timezone=ALWAYS_CALENDAR.timezone,
    document=ALWAYS_CALENDAR.model_dump(mode="json"),
)


@router.post("/calendars", status_code=status.HTTP_201_CREATED, response_model=CalendarDetail)
async def create_calendar(
    request: Request, session: SessionDep, actor: Publisher
) -> CalendarDetail:
    """Check a business calendar (JSON or YAML) completely and publish its next version."""
    document = await _document(request)
    try:
        row = await publish_calendar(session=session, document=document, published_by=actor.user)
    except Rejected as exc:
        raise ProblemError(422, "the calendar is not valid", problems=exc.problems) from exc
    await session.commit()
    return _calendar(row)


@router.get("/calendars", response_model=list[CalendarSummary])
async def list_calendars(session: SessionDep, _actor: ActorDep) -> list[CalendarSummary]:
    """The built-in 24x7 calendar and every published version of every calendar."""
    rows = await calendars_store.list_calendars(session=session)
    return [BUILT_IN, *(_calendar(r) for r in rows)]


@router.get("/calendars/{key}", response_model=CalendarDetail)
async def latest_calendar(key: str, session: SessionDep, _actor: ActorDep) -> CalendarDetail:
    """The latest version of a calendar."""
    if key == BUILT_IN.key:
        return BUILT_IN
    row = await calendars_store.get_calendar(session=session, key=key)
    if row is None:
        raise ProblemError(404, f"no calendar {key}")
    return _calendar(row)


@router.get("/calendars/{key}/versions", response_model=list[CalendarSummary])
async def calendar_versions(
    key: str, session: SessionDep, _actor: ActorDep
) -> list[CalendarSummary]:
    """Every version of one calendar, newest first."""
    rows = await calendars_store.list_calendars(session=session, key=key)
    if not rows:
        raise ProblemError(404, f"no calendar {key}")
    return [_calendar(r) for r in rows]


@router.get("/calendars/{key}/versions/{version}", response_model=CalendarDetail)
async def calendar_version(
    key: str, version: Version, session: SessionDep, _actor: ActorDep
) -> CalendarDetail:
    """One version of a calendar."""
    row = await calendars_store.get_calendar(session=session, key=key, version=version)
    if row is None:
        raise ProblemError(404, f"no calendar {key}@{version}")
    return _calendar(row)


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


async def _rendered(
    session: AsyncSession, access: AccessControl, actor: Actor, rows: list[NotificationRow]
) -> list[NotificationView]:
    """The notifications among these this reader may see, each rendered with their view."""
    keys = list(dict.fromkeys(r.ticket_key for r in rows))
    tickets = [t for k in keys if (t := await tickets_store.get_ticket(session=session, key=k))]
    views = await ticket_views(session=session, access=access, actor=actor, rows=tickets)
    by_key = {t.key: (t, v) for t, v in zip(tickets, views, strict=True)}
    shown = []
    for row in rows:
        found = by_key.get(row.ticket_key)
        if found is None:
            continue
        ticket, view = found
        stored = Stored(
            ticket_key=row.ticket_key, subject=row.subject, body=row.body, parts=row.parts
        )
        text = render_notification(stored, view, {"title": ticket.title})
        if text is not None:
            shown.append(
                NotificationView(
                    ticket_key=row.ticket_key,
                    seq=row.seq,
                    recipient=row.recipient,
                    subject=text.subject,
                    body=text.body,
                    channel=row.channel,
                    status=row.status,
                    created_at=row.created_at,
                )
            )
    return shown


@router.get("/notifications", response_model=list[NotificationView], tags=["notifications"])
async def notifications(
    session: SessionDep,
    actor: ActorDep,
    access: AccessDep,
    recipient: Annotated[str | None, Query(max_length=120)] = None,
    ticket: Annotated[str | None, Query(max_length=40)] = None,
    since: Annotated[DateTimeParam | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[NotificationView]:
    """Notifications for the caller (as user, department group and role), newest first.

    Auditors and admins may ask for any `recipient`; others only for one of their own. Each
    is rendered for the caller: only about tickets they may see (and whose SLA they may
    read), with the ticket's title only if they may read it.
    """
    own = [f"user:{actor.user}", f"group:{actor.department}", f"role:{actor.role}"]
    if recipient is not None and not may_read_notifications_of(actor.role, recipient, own):
        raise ProblemError(403, f"{actor.user} may not read notifications for {recipient}")
    shown: list[NotificationView] = []
    offset = 0
    # Pages are filled past notifications the caller may not see, so their number shows
    # nothing of tickets hidden from the caller.
    while len(shown) < limit:
        rows = await list_notifications(
            session=session,
            recipients=[recipient] if recipient else own,
            ticket_key=ticket,
            since=since,
            limit=limit,
            offset=offset,
        )
        shown += await _rendered(session, access, actor, rows)
        if len(rows) < limit:
            break
        offset += len(rows)
    return shown[:limit]
