"""Workers' tasks: queues, and claim / unclaim / complete / reassign as workflow Updates."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import AccessDep, ActorDep, CallerDep, SessionDep, require_roles
from api.problems import ProblemError
from api.schemas import (
    CompleteTaskRequest,
    ReassignTaskRequest,
    TaskPage,
    TaskView,
    TransitionView,
)
from api.ticket_access import change_ticket, readable_ticket, require_writes, ticket_views
from domain.definitions import ProcessDefinition
from domain.messages import ClaimInput, CompleteInput, ReassignInput, UnclaimInput
from domain.sla_clocks import ESCALATION_PREFIX
from domain.ticket import Actor
from forms.validation import data_problems
from policies.access import AccessControl
from policies.redaction import redact_task, written_fields
from policies.roles import WORK_TASKS
from store import definitions as definitions_store
from store import tickets as store
from store.models import TaskRow

# Every route here is for people who work tasks.
router = APIRouter(tags=["tasks"], dependencies=[Depends(require_roles(*WORK_TASKS))])


async def _task_page(
    session: AsyncSession, access: AccessControl, actor: Actor, rows: list[TaskRow]
) -> Response:
    """Tasks of tickets the caller may see, each redacted like its ticket."""
    keys = list(dict.fromkeys(r.ticket_key for r in rows))
    tickets = [t for k in keys if (t := await store.get_ticket(session=session, key=k))]
    views = await ticket_views(session=session, access=access, actor=actor, rows=tickets)
    by_key = {t.key: v for t, v in zip(tickets, views, strict=True)}
    items = []
    for row in rows:
        view = by_key.get(row.ticket_key)
        if view is not None and view.readable("tasks"):
            items.append(redact_task(TaskView.model_validate(row).model_dump(), view))
    return JSONResponse(jsonable_encoder({"items": items}))


@router.get("/tasks/mine", response_model=TaskPage)
async def my_tasks(
    session: SessionDep,
    actor: ActorDep,
    access: AccessDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> Response:
    """Tasks the caller has claimed and not yet completed."""
    rows = await store.list_tasks(
        session=session, assignee=actor.user, statuses=("claimed",), limit=limit
    )
    return await _task_page(session, access, actor, rows)


@router.get("/tasks", response_model=TaskPage)
async def queue(
    session: SessionDep,
    actor: ActorDep,
    access: AccessDep,
    group: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> Response:
    """A group's queue (default: the caller's department): open and claimed tasks, oldest first."""
    rows = await store.list_tasks(session=session, group=group or actor.department, limit=limit)
    return await _task_page(session, access, actor, rows)


@router.post("/tickets/{key}/tasks/{stage}/claim", response_model=TransitionView)
async def claim(key: str, stage: str, caller: CallerDep) -> TransitionView:
    """Claim a task of the caller's group."""
    return await change_ticket(
        caller, key, "claim", ClaimInput(stage_key=stage, actor=caller.actor), writes=["assignee"]
    )


@router.post("/tickets/{key}/tasks/{stage}/unclaim", response_model=TransitionView)
async def unclaim(key: str, stage: str, caller: CallerDep) -> TransitionView:
    """Put a claimed task back in its group's queue."""
    payload = UnclaimInput(stage_key=stage, actor=caller.actor)
    return await change_ticket(caller, key, "unclaim", payload, writes=["assignee"])


@router.post("/tickets/{key}/tasks/{stage}/complete", response_model=TransitionView)
async def complete(
    key: str, stage: str, body: CompleteTaskRequest, caller: CallerDep
) -> TransitionView:
    """Complete a claimed task; the data must satisfy the stage's form."""
    ticket, view = await readable_ticket(
        session=caller.session, key=key, actor=caller.actor, access=caller.access
    )
    row = await definitions_store.get_definition(
        session=caller.session, key=ticket.definition_key, version=ticket.definition_version
    )
    if row is None:
        raise ProblemError(
            500,
            f"definition {ticket.definition_key}@{ticket.definition_version} "
            "is missing from the store",
        )
    try:
        form = ProcessDefinition.model_validate(row.document).stage(stage).form
    except KeyError as exc:
        # An SLA escalation's follow-up task has no form; the workflow knows whether it exists.
        if not stage.startswith(ESCALATION_PREFIX):
            raise ProblemError(404, f"ticket {key} has no stage {stage!r}") from exc
        form = None
    written = written_fields(body.data)
    require_writes(view, written, pointer="/data")
    problems = data_problems(form or {}, body.data)
    if problems:
        raise ProblemError(
            422,
            "the form data does not satisfy the stage form",
            problems=[p.model_copy(update={"pointer": "/data" + p.pointer}) for p in problems],
        )
    payload = CompleteInput(stage_key=stage, actor=caller.actor, data=body.data)
    return await change_ticket(
        caller,
        key,
        "complete",
        payload,
        writes=written,
        pointer="/data",
        ticket=(ticket, view),
    )


@router.post("/tickets/{key}/tasks/{stage}/reassign", response_model=TransitionView)
async def reassign(
    key: str, stage: str, body: ReassignTaskRequest, caller: CallerDep
) -> TransitionView:
    """Move a task to another group (back to its queue) and/or hand it to a person."""
    payload = ReassignInput(
        stage_key=stage,
        actor=caller.actor,
        to_group=body.to_group,
        to_user=body.to_user,
        reason=body.reason,
    )
    return await change_ticket(caller, key, "reassign", payload, writes=["assignee"])
