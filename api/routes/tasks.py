"""Workers' tasks: queues, and claim / unclaim / complete / reassign as workflow Updates.

A stage's task is at `/tickets/{key}/tasks/{stage}/...`; an SLA escalation's follow-up at
`/tickets/{key}/followups/{followup}/...` (ids `F1`, `F2`...). Queues list both, with a `kind`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import AccessDep, ActorDep, CallerDep, DefinitionsDep, SessionDep, require_roles
from api.problems import ProblemError
from api.schemas import JsonObject, Strict, TaskView, TransitionView
from api.ticket_access import authorize_change, change_ticket, readable_ticket, ticket_views
from domain.messages import ClaimInput, CompleteInput, ReassignInput, UnclaimInput, WithdrawInput
from domain.problems import Problem
from domain.ticket import Actor, decision_problems, is_followup_id
from forms.validation import data_problems_in_thread
from policies.access import AccessControl
from policies.authorization import WORK_TASKS, may_hold_task
from policies.redaction import redact_task
from store import tickets as store
from store.models import TaskRow
from store.users import get_user


class TaskPage(BaseModel):
    """Tasks still to do."""

    items: list[TaskView]


class CompleteTaskRequest(Strict):
    """Form data that completes a stage."""

    data: JsonObject = Field(default_factory=dict)


class ReassignTaskRequest(Strict):
    """Move a task to another group and/or hand it to a person."""

    to_group: str | None = Field(default=None, min_length=1, max_length=100)
    to_user: str | None = Field(default=None, min_length=1, max_length=100)
    reason: str = Field(min_length=1, max_length=2000)


class WithdrawRequest(Strict):
    """Why a follow-up is no longer needed."""

    reason: str = Field(default="", max_length=2000)


# Every route here is for people who work tasks.
router = APIRouter(tags=["tasks"], dependencies=[Depends(require_roles(*WORK_TASKS))])


async def _visible_tasks(
    session: AsyncSession, access: AccessControl, actor: Actor, rows: list[TaskRow]
) -> list[dict[str, Any]]:
    """Tasks of tickets the caller may see, each redacted like its ticket."""
    keys = list(dict.fromkeys(r.ticket_key for r in rows))
    tickets = await store.get_tickets(session=session, keys=keys)
    views = await ticket_views(session=session, access=access, actor=actor, rows=tickets)
    by_key = {t.key: v for t, v in zip(tickets, views, strict=True)}
    items = []
    for row in rows:
        view = by_key.get(row.ticket_key)
        if view is not None and view.readable("tasks"):
            items.append(redact_task(TaskView.model_validate(row).model_dump(), view))
    return items


async def _task_page(
    session: AsyncSession,
    access: AccessControl,
    actor: Actor,
    limit: int,
    fetch: Callable[[int], Awaitable[list[TaskRow]]],
) -> Response:
    """Up to `limit` tasks the caller may see, read past the ones they may not.

    A page cut short by hidden tasks would count another group's work on tickets the
    caller cannot see; `fetch(offset)` returns the next `limit` rows.
    """
    items: list[dict[str, Any]] = []
    offset = 0
    while len(items) < limit:
        rows = await fetch(offset)
        items += await _visible_tasks(session, access, actor, rows)
        if len(rows) < limit:
            break
        offset += len(rows)
    return JSONResponse(jsonable_encoder({"items": items[:limit]}))


@router.get("/tasks/mine", response_model=TaskPage)
async def my_tasks(
    session: SessionDep,
    actor: ActorDep,
    access: AccessDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> Response:
    """Tasks the caller has claimed and not yet completed."""

    async def fetch(offset: int) -> list[TaskRow]:
        return await store.list_tasks(
            session=session, assignee=actor.user, statuses=("claimed",), limit=limit, offset=offset
        )

    return await _task_page(session, access, actor, limit, fetch)


@router.get("/tasks", response_model=TaskPage)
async def queue(
    session: SessionDep,
    actor: ActorDep,
    access: AccessDep,
    group: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> Response:
    """A group's queue (default: the caller's department): open and claimed tasks, oldest first.

    Only tasks of tickets the caller may see (and whose tasks they may read).
    """

    async def fetch(offset: int) -> list[TaskRow]:
        return await store.list_tasks(
            session=session, group=group or actor.department, limit=limit, offset=offset
        )

    return await _task_page(session, access, actor, limit, fetch)


def _stage(key: str, stage: str) -> str:
    """A stage key from the path: a follow-up id names no stage (its routes are elsewhere)."""
    if is_followup_id(stage):
        raise ProblemError(
            404, f"ticket {key} has no stage {stage!r}; follow-ups are at /followups/{stage}"
        )
    return stage


def _followup(key: str, followup: str) -> str:
    """A follow-up id from the path."""
    if not is_followup_id(followup):
        raise ProblemError(404, f"ticket {key} has no follow-up {followup!r}")
    return followup


@router.post("/tickets/{key}/tasks/{stage}/claim", response_model=TransitionView)
async def claim(key: str, stage: str, caller: CallerDep) -> TransitionView:
    """Claim a task of the caller's group."""
    payload = ClaimInput(stage_key=_stage(key, stage), actor=caller.actor)
    return await change_ticket(caller, key, "claim", payload)


@router.post("/tickets/{key}/followups/{followup}/claim", response_model=TransitionView)
async def claim_followup(key: str, followup: str, caller: CallerDep) -> TransitionView:
    """Claim a follow-up of the caller's group."""
    payload = ClaimInput(stage_key=_followup(key, followup), actor=caller.actor)
    return await change_ticket(caller, key, "claim", payload)


@router.post("/tickets/{key}/tasks/{stage}/unclaim", response_model=TransitionView)
async def unclaim(key: str, stage: str, caller: CallerDep) -> TransitionView:
    """Put a claimed task back in its group's queue."""
    payload = UnclaimInput(stage_key=_stage(key, stage), actor=caller.actor)
    return await change_ticket(caller, key, "unclaim", payload)


@router.post("/tickets/{key}/followups/{followup}/unclaim", response_model=TransitionView)
async def unclaim_followup(key: str, followup: str, caller: CallerDep) -> TransitionView:
    """Put a claimed follow-up back in its group's queue."""
    payload = UnclaimInput(stage_key=_followup(key, followup), actor=caller.actor)
    return await change_ticket(caller, key, "unclaim", payload)


@router.post("/tickets/{key}/tasks/{stage}/complete", response_model=TransitionView)
async def complete(
    key: str, stage: str, body: CompleteTaskRequest, caller: CallerDep, definitions: DefinitionsDep
) -> TransitionView:
    """Complete a claimed task; the data must satisfy the stage's form.

    A service stage's task (open when its action failed for good) takes a decision instead:
    `{"decision": "retry"}` runs the action again, `{"decision": "skip", "reason": "..."}`
    finishes the stage without its output. Wait, timer and subprocess stages are a 409.
    """
    return await _complete(key, _stage(key, stage), body, caller, definitions)


@router.post("/tickets/{key}/followups/{followup}/complete", response_model=TransitionView)
async def complete_followup(
    key: str,
    followup: str,
    body: CompleteTaskRequest,
    caller: CallerDep,
    definitions: DefinitionsDep,
) -> TransitionView:
    """Complete a claimed follow-up (it has no form: any data, e.g. a note, is kept)."""
    return await _complete(key, _followup(key, followup), body, caller, definitions)


async def _complete(
    key: str,
    stage: str,
    body: CompleteTaskRequest,
    caller: CallerDep,
    definitions: DefinitionsDep,
) -> TransitionView:
    ticket, view = await readable_ticket(
        session=caller.session, key=key, actor=caller.actor, access=caller.access
    )
    definition = await definitions.get(
        session=caller.session, key=ticket.definition_key, version=ticket.definition_version
    )
    if definition is None:
        raise ProblemError(
            500,
            f"definition {ticket.definition_key}@{ticket.definition_version} "
            "is missing from the store",
        )
    form, kind = None, "task"
    # A follow-up has no form; the workflow knows whether it exists.
    if not is_followup_id(stage):
        try:
            stage_definition = definition.stage(stage)
        except KeyError as exc:
            raise ProblemError(404, f"ticket {key} has no stage {stage!r}") from exc
        form, kind = stage_definition.form, stage_definition.kind
    payload = CompleteInput(stage_key=stage, actor=caller.actor, data=body.data)
    # Refused writes are a 403 before the form's 422s, which would describe denied fields.
    authorize_change(caller, ticket, view, "complete", payload)
    if kind == "service":
        # A service stage's task is open only when its action failed: the data is a decision.
        problems, title = (
            decision_problems(body.data),
            "give a decision: retry, or skip with a reason",
        )
    elif kind != "task":
        raise ProblemError(
            409, f"stage {stage!r} of {key} is a {kind} stage: the system completes it"
        )
    else:
        problems = await data_problems_in_thread(form or {}, body.data)
        title = "the form data does not satisfy the stage form"
    if problems:
        raise ProblemError(
            422,
            title,
            problems=[p.model_copy(update={"pointer": "/data" + p.pointer}) for p in problems],
        )
    return await change_ticket(caller, key, "complete", payload, ticket=(ticket, view))


@router.post("/tickets/{key}/tasks/{stage}/reassign", response_model=TransitionView)
async def reassign(
    key: str, stage: str, body: ReassignTaskRequest, caller: CallerDep
) -> TransitionView:
    """Move a task to another group (back to its queue) and/or hand it to a person.

    `to_user` must be a known user who may hold tasks of the group the task ends up in (422
    otherwise: a task held by someone who cannot work it is locked for the whole group).
    `to_group` may name a group that has no users yet.
    """
    return await _reassign(key, _stage(key, stage), body, caller)


@router.post("/tickets/{key}/followups/{followup}/reassign", response_model=TransitionView)
async def reassign_followup(
    key: str, followup: str, body: ReassignTaskRequest, caller: CallerDep
) -> TransitionView:
    """Move a follow-up to another group and/or person (the same rules as a task's)."""
    return await _reassign(key, _followup(key, followup), body, caller)


@router.post("/tickets/{key}/followups/{followup}/withdraw", response_model=TransitionView)
async def withdraw_followup(
    key: str, followup: str, caller: CallerDep, body: WithdrawRequest | None = None
) -> TransitionView:
    """Withdraw a follow-up no longer needed (its group, the owning department or an admin).

    The body is optional; the ticket resolves if nothing else is left to do.
    """
    reason = body.reason if body is not None else ""
    payload = WithdrawInput(stage_key=_followup(key, followup), actor=caller.actor, reason=reason)
    return await change_ticket(caller, key, "withdraw", payload)


async def _reassign(
    key: str, stage: str, body: ReassignTaskRequest, caller: CallerDep
) -> TransitionView:
    ticket, view = await readable_ticket(
        session=caller.session, key=key, actor=caller.actor, access=caller.access
    )
    payload = ReassignInput(
        stage_key=stage,
        actor=caller.actor,
        to_group=body.to_group,
        to_user=body.to_user,
        reason=body.reason,
    )
    authorize_change(caller, ticket, view, "reassign", payload)
    if body.to_user is not None:
        group = body.to_group or await _task_group(caller.session, key, stage)
        holder = await get_user(session=caller.session, name=body.to_user)
        if holder is None:
            detail = f"no user {body.to_user!r}"
        elif group is not None and not may_hold_task(holder.role, holder.department, group):
            detail = f"{body.to_user} is not in group {group!r}"
        else:
            detail = ""
        if detail:
            raise ProblemError(422, detail, problems=[Problem(pointer="/to_user", detail=detail)])
    return await change_ticket(caller, key, "reassign", payload, ticket=(ticket, view))


async def _task_group(session: AsyncSession, key: str, stage: str) -> str | None:
    """The group holding the stage's latest task (None if the stage has none)."""
    tasks = await store.list_ticket_tasks(session=session, key=key)
    rounds = [t for t in tasks if t.stage_key == stage]
    return max(rounds, key=lambda t: t.round).group_name if rounds else None
