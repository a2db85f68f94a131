"""Tickets: create (workflow start), list and read (projections), and changes (Updates)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Query, Response, status
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.service import RPCError

from api.deps import (
    AccessDep,
    ActorDep,
    CallerDep,
    DefinitionsDep,
    IdempotencyKeyDep,
    SessionDep,
    SessionsDep,
    SettingsDep,
    TemporalDep,
    require_roles,
)
from api.params import COLUMN_INT_MAX
from api.playbook_views import PlaybookView, category_playbooks
from api.problems import ProblemError, reused_idempotency_key
from api.process_rendering import graph_response
from api.routes.definitions import GRAPH_RESPONSES, GraphFormat
from api.routes.feedback import RatingView, rating_view
from api.routes.problems import ProblemLink, ticket_problems
from api.schemas import JsonObject, Strict, TaskView, TicketSummary, TransitionView, redactable
from api.ticket_access import (
    change_ticket,
    readable_ticket,
    require_writes,
    subject_of,
    ticket_views,
    visible_filter,
)
from api.workflow_calls import send_signal, signal_input
from domain.definitions import ProcessDefinition
from domain.messages import (
    EXTERNAL_SIGNAL_NAMES,
    CancelInput,
    CommentInput,
    ConfirmInput,
    ReopenInput,
)
from domain.problems import Problem, Rejected
from domain.recurrence import ticket_category
from domain.sla import DEFAULT_PRIORITY, Priority
from domain.ticket import Actor, TicketStatus
from domain.ticket_path import StageRun, TicketPath, ticket_path
from policies.access import AccessControl, ticket_domains
from policies.authorization import CREATE_TICKETS, SIGNAL, creation_writes
from policies.event_shapes import redact_events
from policies.list_filters import unreadable_somewhere
from policies.redaction import TICKET_SHAPE, redact
from services.sentiment import submit_ticket_message
from services.ticket_creation import (
    IdempotencyMismatch,
    KeyCollisions,
    file_ticket,
    load_definition,
)
from store import tickets as store
from store.feedback import get_feedback
from store.models import TaskRow, TicketEventRow, TicketRow


class CreateTicketRequest(Strict):
    """File a ticket against a published definition (its latest version unless given)."""

    definition: str = Field(min_length=1, max_length=63)
    version: int | None = Field(default=None, ge=1, le=COLUMN_INT_MAX)
    data: JsonObject = Field(default_factory=dict, description="Intake form data.")
    priority: Priority = Field(default=DEFAULT_PRIORITY, description="P1 (most urgent) to P4.")
    allow_duplicate: bool = Field(default=False, description="File even if it repeats a ticket.")


class TicketCreated(BaseModel):
    """The ticket a create made (or, on an idempotent retry, made before)."""

    key: str
    status: str
    definition_key: str
    definition_version: int
    duplicate_of: str | None = None


class TicketLink(BaseModel):
    """Another ticket: a subprocess's parent or child.

    Its key is shown to whoever reads this ticket's tasks (the timeline names it); the rest only
    to a caller who may read that ticket, redacted by their view of it.
    """

    model_config = ConfigDict(json_schema_extra=redactable("key"))

    key: str
    stage: str | None = Field(default=None, description="The parent's subprocess stage.")
    title: str | None = None
    status: str | None = None
    definition_key: str | None = None


class TicketDetail(TicketSummary):
    """A ticket with its intake data and tasks, and its subprocess parent and children."""

    intake: JsonObject
    last_seq: int
    tasks: list[TaskView]
    parent: TicketLink | None = None
    children: list[TicketLink] = Field(default_factory=list)
    feedback: RatingView | None = Field(
        default=None, description="The customer's rating, once given (`POST /feedback/{token}`)."
    )
    problems: list[ProblemLink] = Field(
        default_factory=list, description="Confirmed problems it belongs to or shows."
    )
    playbooks: list[PlaybookView] = Field(
        default_factory=list,
        description="Playbooks of the ticket's category, newest first (with ticket.triage).",
    )


class TicketPage(BaseModel):
    """One page of tickets; pass `next_cursor` as `cursor` for the next."""

    items: list[TicketSummary]
    next_cursor: str | None


class EventView(BaseModel):
    """One recorded transition (redacted: the actor and data may be hidden)."""

    model_config = ConfigDict(
        from_attributes=True, json_schema_extra=redactable("seq", "type", "at")
    )

    seq: int
    type: str
    at: datetime
    actor: str
    data: JsonObject


class CommentRequest(Strict):
    """A comment on a ticket."""

    body: str = Field(min_length=1, max_length=20_000)
    internal: bool = False


class CancelRequest(Strict):
    """Why the ticket is cancelled."""

    reason: str = Field(min_length=1, max_length=2000)


class ReopenRequest(Strict):
    """Why the resolution is rejected, and which stages must run again (default: the last)."""

    reason: str = Field(min_length=1, max_length=2000)
    stages: list[str] | None = None


class ConfirmRequest(Strict):
    """The requester accepts the resolution."""

    comment: str = Field(default="", max_length=2000)


class SignalRequest(Strict):
    """An outside system's event."""

    payload: JsonObject = Field(default_factory=dict)


router = APIRouter(tags=["tickets"])
Creator = Annotated[Actor, Depends(require_roles(*CREATE_TICKETS))]
Signaller = Annotated[Actor, Depends(require_roles(*SIGNAL))]


@router.post(
    "/tickets",
    status_code=status.HTTP_201_CREATED,
    response_model=TicketCreated,
    responses={200: {"model": TicketCreated, "description": "A duplicate: nothing was filed."}},
)
async def create_ticket(
    body: CreateTicketRequest,
    response: Response,
    session: SessionDep,
    sessions: SessionsDep,
    client: TemporalDep,
    settings: SettingsDep,
    actor: Creator,
    access: AccessDep,
    idempotency_key: IdempotencyKeyDep,
) -> TicketCreated:
    """File a ticket: the intake is validated, a key allocated and its workflow started.

    A repeat of an open ticket the caller may see answers 200 with `duplicate_of`; a repeat
    of one they may not see is filed like any ticket, linked to it for the handlers.
    """
    try:
        definition = await load_definition(
            session=session, key=body.definition, version=body.version
        )
        catalog = await access.catalog(session, definition.key, definition.version)
        domains = ticket_domains(definition.department, body.data)
        view = access.view(subject_of(actor, owner=True), domains, catalog)
        writes = creation_writes(body.data, priority_given="priority" in body.model_fields_set)
        require_writes(view, writes)
        access.usage.wrote(actor.role, [w.field for w in writes])

        async def may_see(rows: list[TicketRow]) -> list[bool]:
            # A repeat is reported to a ticket only if the filer may read it like any ticket.
            views = await ticket_views(session=session, access=access, actor=actor, rows=rows)
            return [v.visible() for v in views]

        created = await file_ticket(
            session=session,
            client=client,
            task_queue=settings.task_queue,
            definition=definition,
            data=body.data,
            requester=actor,
            idempotency_key=idempotency_key,
            priority=body.priority,
            allow_duplicate=body.allow_duplicate,
            may_see=may_see,
        )
    except Rejected as exc:
        raise ProblemError(422, "the ticket cannot be filed", problems=exc.problems) from exc
    except IdempotencyMismatch as exc:
        raise reused_idempotency_key("another ticket filing") from exc
    except KeyCollisions as exc:
        raise ProblemError(
            503,
            f"ticket keys {exc}-* collide with existing workflows; the key "
            "sequence is behind Temporal",
        ) from exc
    except RPCError as exc:
        raise ProblemError(
            503,
            f"the ticket could not be started: {exc.message}; retry with the same Idempotency-Key",
            headers={"Retry-After": "2"},
        ) from exc
    if created.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    if created.duplicate_of:
        response.status_code = status.HTTP_200_OK  # nothing new was created
    else:
        await submit_ticket_message(
            sessions=sessions,
            client=client,
            settings=settings,
            key=created.key,
            intake=body.data,
            text=body.data.get("description"),
            source="intake",
            now=datetime.now(UTC),
        )
    response.headers["Location"] = f"/tickets/{created.key}"
    return TicketCreated(
        key=created.key,
        status=TicketStatus.OPEN.value,
        definition_key=created.definition.key,
        definition_version=created.definition.version,
        duplicate_of=created.duplicate_of,
    )


# The fields whose values each list filter compares: the department filter matches the
# owning department or a group holding a task, the assignee filter any task's assignee.
FILTER_FIELDS: dict[str, tuple[str, ...]] = {
    "status": ("status",),
    "definition": ("definition",),
    "department": ("department", "tasks"),
    "assignee": ("tasks", "assignee"),
}


def _refuse_hidden_filters(access: AccessControl, actor: Actor, **used: object) -> None:
    """403 naming each filter on a field the caller may not read in every ticket they list."""
    subject = subject_of(actor, owner=False)
    scope = access.list_scope(subject)
    problems = []
    for param, value in used.items():
        if value is None:
            continue
        denied = unreadable_somewhere(access, subject, scope, FILTER_FIELDS[param])
        if denied:
            fields = ", ".join(f"ticket.{name}" for name in denied)
            problems.append(
                Problem(
                    pointer=f"query:/{param}",
                    detail=f"you may not read {fields} in every ticket you can list",
                )
            )
    if problems:
        raise ProblemError(403, "you may not filter by a field you cannot read", problems=problems)


@router.get("/tickets", response_model=TicketPage)
async def list_tickets(
    session: SessionDep,
    actor: ActorDep,
    access: AccessDep,
    status_: Annotated[TicketStatus | None, Query(alias="status")] = None,
    definition: Annotated[str | None, Query(max_length=63)] = None,
    department: Annotated[str | None, Query(max_length=100)] = None,
    assignee: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> Response:
    """Tickets newest first, filtered, each with only the fields the caller may read.

    A filter on a field the caller may not read in every ticket they can list is a 403.

    A page holds the tickets the caller may see among `limit` candidates, so it may be
    shorter than `limit` before the end; follow `next_cursor` until it is null.
    """
    _refuse_hidden_filters(
        access,
        actor,
        status=status_,
        definition=definition,
        department=department,
        assignee=assignee,
    )
    filters = store.TicketFilter(
        status=status_.value if status_ else None,
        definition_key=definition,
        department=department,
        assignee=assignee,
        **visible_filter(access, actor),
    )
    try:
        rows, next_cursor = await store.list_tickets(
            session=session, filters=filters, limit=limit, cursor=cursor
        )
    except store.BadCursor as exc:
        raise ProblemError(
            422,
            "the cursor is not valid",
            problems=[Problem(pointer="query:/cursor", detail=str(exc))],
        ) from exc
    views = await ticket_views(session=session, access=access, actor=actor, rows=rows)
    items = []
    for row, view in zip(rows, views, strict=True):
        if view.visible():
            items.append(redact(TicketSummary.model_validate(row).model_dump(), view, TICKET_SHAPE))
            access.usage.read(view)
    return JSONResponse(jsonable_encoder({"items": items, "next_cursor": next_cursor}))


# What a link shows of a ticket the caller may read.
LINKED = ("key", "title", "status", "definition_key")


async def _links(
    session: AsyncSession, access: AccessControl, actor: Actor, row: TicketRow, tasks: list[TaskRow]
) -> tuple[TicketLink | None, list[TicketLink]]:
    """The ticket's parent and children, each as much as the caller may read of it."""
    children = await store.list_children(session=session, key=row.key)
    parent = await store.get_ticket(session=session, key=row.parent_key) if row.parent_key else None
    others = [*children, *([parent] if parent is not None else [])]
    views = dict(
        zip(
            (o.key for o in others),
            await ticket_views(session=session, access=access, actor=actor, rows=others),
            strict=True,
        )
    )

    def link(other: TicketRow, stage: str | None) -> TicketLink:
        view = views[other.key]
        if not view.visible():
            return TicketLink(key=other.key)
        summary = TicketSummary.model_validate(other).model_dump(include=set(LINKED))
        stage = stage if view.readable("tasks") else None
        return TicketLink(stage=stage, **redact(summary, view, TICKET_SHAPE))

    started_by = {t.child: t.stage_key for t in tasks if t.child}
    linked_children = [link(c, None) for c in children]
    # Children started and not yet projected are named by their parent's task.
    known = {c.key for c in children}
    linked_children += [TicketLink(key=k) for k in started_by if k not in known]
    if row.parent_key is None:
        return None, linked_children
    if parent is None:
        return TicketLink(key=row.parent_key), linked_children
    parent_tasks = await store.list_ticket_tasks(session=session, key=parent.key)
    stage = next((t.stage_key for t in parent_tasks if t.child == row.key), None)
    return link(parent, stage), linked_children


@router.get("/tickets/{key}", response_model=TicketDetail)
async def get_ticket(key: str, session: SessionDep, actor: ActorDep, access: AccessDep) -> Response:
    """One ticket with its intake data and every task, as far as the caller may read them.

    A subprocess's `parent` and `children` are named by key to whoever reads the tasks; their
    title and status only to a caller who may read that ticket too.
    """
    row, view = await readable_ticket(session=session, key=key, actor=actor, access=access)
    tasks = await store.list_ticket_tasks(session=session, key=key)
    parent, children = await _links(session, access, actor, row, tasks)
    rated = (
        await get_feedback(session=session, ticket_key=key) if view.readable("feedback") else None
    )
    detail = TicketDetail(
        **TicketSummary.model_validate(row).model_dump(),
        intake=row.intake,
        last_seq=row.last_seq,
        tasks=[TaskView.model_validate(t) for t in tasks],
        parent=parent,
        children=children,
        feedback=rating_view(rated) if rated is not None else None,
        problems=await ticket_problems(session=session, ticket=row, view=view),
    )
    access.usage.read(view)
    shown = detail.model_dump(exclude_none=False)
    # Unset parts of a link are absent, not null: null would say the other ticket has none.
    shown["parent"] = parent.model_dump(exclude_none=True) if parent else None
    shown["children"] = [c.model_dump(exclude_none=True) for c in children]
    # Each playbook comes redacted by the caller's view of the ticket it was promoted from.
    shown["playbooks"] = await category_playbooks(
        session=session,
        access=access,
        actor=actor,
        category=ticket_category(row.category, row.definition_key),
    )
    return JSONResponse(jsonable_encoder(redact(shown, view, TICKET_SHAPE)))


@router.get("/tickets/{key}/events", response_model=list[EventView])
async def ticket_events(
    key: str,
    session: SessionDep,
    actor: ActorDep,
    access: AccessDep,
    after: Annotated[int, Query(ge=0, le=COLUMN_INT_MAX)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 500,
) -> Response:
    """The ticket's business timeline, in order, each event redacted by its declared shape."""
    _row, view = await readable_ticket(session=session, key=key, actor=actor, access=access)
    if not view.readable("events"):
        raise ProblemError(403, "you may not read ticket.events")
    rows = await store.list_events(session=session, key=key, after_seq=after, limit=limit)
    events = redact_events([EventView.model_validate(r).model_dump() for r in rows], view)
    return JSONResponse(jsonable_encoder(events))


def wait_signals(definition: ProcessDefinition) -> list[str]:
    """The signals the definition's wait stages declare, in stage order, once each."""
    return list(dict.fromkeys(s.wait.signal for s in definition.stages if s.wait is not None))


# The events a path is read from besides the task statuses.
PATH_EVENTS = ("gateway_decided", "wait_timed_out", "stage_skipped")


def stage_runs(tasks: list[TaskRow], events: list[TicketEventRow]) -> dict[str, list[StageRun]]:
    """Each stage's rounds, oldest first, with its gateway's choice, timeout and skip reason."""
    by_task = {
        t.id: StageRun(status=t.status, round=t.round) for t in tasks if t.kind != "followup"
    }
    runs: dict[str, list[StageRun]] = {}
    for task in sorted(tasks, key=lambda t: t.round):
        if task.id in by_task:
            runs.setdefault(task.stage_key, []).append(by_task[task.id])
    for event in events:
        run = by_task.get(str(event.data.get("task")))
        if run is None:
            continue
        if event.type == "gateway_decided":
            taken = event.data.get("taken")
            run.chosen = [str(t) for t in taken] if isinstance(taken, list) else []
        elif event.type == "wait_timed_out":
            run.timed_out = True
        elif event.type == "stage_skipped":
            run.reason = str(event.data.get("reason", ""))
    return runs


@router.get(
    "/tickets/{key}/path",
    response_model=TicketPath,
    responses=GRAPH_RESPONSES,
)
async def ticket_path_view(
    key: str,
    session: SessionDep,
    actor: ActorDep,
    access: AccessDep,
    definitions: DefinitionsDep,
    format: GraphFormat = "json",
) -> Response:
    """The path this ticket took: its definition's graph, each stage and edge marked.

    A stage shows its latest round's status (`skipped` with the reason) and lists every
    round; an edge is `taken`, `not_taken` or `pending` in its source's latest round and
    names the rounds that took it (`taken_in`). Only stage keys, titles, kinds, groups,
    statuses and the definition's conditions (readable by whoever may read definitions)
    appear: no form data.
    For callers who may read the ticket's tasks.
    """
    row, view = await readable_ticket(session=session, key=key, actor=actor, access=access)
    if not view.readable("tasks"):
        raise ProblemError(403, "you may not read ticket.tasks")
    definition = await definitions.get(
        session=session, key=row.definition_key, version=row.definition_version
    )
    if definition is None:
        raise ProblemError(
            500, f"definition {row.definition_key}@{row.definition_version} is missing"
        )
    tasks = await store.list_ticket_tasks(session=session, key=key)
    events = await store.list_events_of_types(session=session, key=key, types=PATH_EVENTS)
    return await graph_response(ticket_path(key, definition, stage_runs(tasks, events)), format)


# A confirmation without a body says nothing more.
NO_COMMENT = ConfirmRequest()


@router.post("/tickets/{key}/comments", response_model=TransitionView)
async def comment(
    key: str,
    body: CommentRequest,
    caller: CallerDep,
    sessions: SessionsDep,
    settings: SettingsDep,
) -> TransitionView:
    """Add a comment (internal comments are for the handling groups).

    The requester's own public comment on a ticket naming a customer is that customer's
    message: taken for sentiment analysis if they consent to it.
    """
    ticket = await readable_ticket(
        session=caller.session, key=key, actor=caller.actor, access=caller.access
    )
    # Read before the change: sending it ends the session's transaction (and the row with it).
    requester, intake = ticket[0].requester, ticket[0].intake
    payload = CommentInput(actor=caller.actor, body=body.body, internal=body.internal)
    answer = await change_ticket(caller, key, "comment", payload, ticket=ticket)
    if not body.internal and caller.actor.user == requester:
        await submit_ticket_message(
            sessions=sessions,
            client=caller.temporal,
            settings=settings,
            key=key,
            intake=intake,
            text=body.body,
            source="comment",
            now=datetime.now(UTC),
        )
    return answer


@router.post("/tickets/{key}/cancel", response_model=TransitionView)
async def cancel(key: str, body: CancelRequest, caller: CallerDep) -> TransitionView:
    """Cancel the ticket (its requester, an agent or an admin)."""
    payload = CancelInput(actor=caller.actor, reason=body.reason)
    return await change_ticket(caller, key, "cancel", payload)


@router.post("/tickets/{key}/reopen", response_model=TransitionView)
async def reopen(key: str, body: ReopenRequest, caller: CallerDep) -> TransitionView:
    """Send a resolved ticket back; the chosen stages and their dependents run again."""
    payload = ReopenInput(actor=caller.actor, reason=body.reason, stages=body.stages)
    return await change_ticket(caller, key, "reopen", payload)


@router.post("/tickets/{key}/confirm", response_model=TransitionView)
async def confirm(
    key: str, caller: CallerDep, body: Annotated[ConfirmRequest, Body()] = NO_COMMENT
) -> TransitionView:
    """The requester accepts the resolution; the ticket closes (no body: no comment)."""
    payload = ConfirmInput(actor=caller.actor, comment=body.comment)
    return await change_ticket(caller, key, "confirm", payload)


@router.post(
    "/tickets/{key}/signals/{name}",
    status_code=status.HTTP_202_ACCEPTED,
    tags=["systems"],
    description="Signals for outside systems: "
    + "; ".join(f"`{n}`: {d}" for n, d in EXTERNAL_SIGNAL_NAMES.items())
    + "; and every signal a `wait` stage of the ticket's definition declares.",
)
async def signal(
    key: str,
    name: str,
    body: SignalRequest,
    session: SessionDep,
    sessions: SessionsDep,
    settings: SettingsDep,
    client: TemporalDep,
    actor: Signaller,
    access: AccessDep,
    definitions: DefinitionsDep,
    idempotency_key: IdempotencyKeyDep,
    response: Response,
) -> dict[str, str]:
    """Deliver an outside system's event to a running ticket.

    A signal a wait stage declares ends that wait if its correlation holds of the payload;
    one that does not hold (a forged value) is recorded and ends nothing.

    With an Idempotency-Key a retry is recorded once; the key reused with another payload is a
    422.
    """
    row, _view = await readable_ticket(session=session, key=key, actor=actor, access=access)
    if name not in EXTERNAL_SIGNAL_NAMES:
        definition = await definitions.get(
            session=session, key=row.definition_key, version=row.definition_version
        )
        waits = wait_signals(definition) if definition is not None else []
        if name not in waits:
            known = [*EXTERNAL_SIGNAL_NAMES, *(w for w in waits if w not in EXTERNAL_SIGNAL_NAMES)]
            raise ProblemError(404, f"no signal {name!r} for {key}; known: {', '.join(known)}")
    signal = signal_input(
        name=name, user=actor.user, payload=body.payload, idempotency_key=idempotency_key
    )
    if signal.signal_id:
        earlier = await store.find_external_event(
            session=session, key=key, signal_id=signal.signal_id
        )
        if earlier is not None:
            if earlier.data.get("fingerprint") != signal.request_fingerprint:
                raise reused_idempotency_key("another signal to this ticket")
            response.headers["Idempotent-Replayed"] = "true"
            return {"key": key, "signal": name, "status": "accepted"}
    intake = row.intake  # read before the rollback expires the row
    await session.rollback()
    await send_signal(client=client, key=key, signal=signal)
    if name == "customer_reply":
        await submit_ticket_message(
            sessions=sessions,
            client=client,
            settings=settings,
            key=key,
            intake=intake,
            text=body.payload.get("text"),
            source="reply",
            now=datetime.now(UTC),
        )
    return {"key": key, "signal": name, "status": "accepted"}
