"""Care: strategies published as versions, and the confirmation tasks of running care.

Process owners publish strategies; the care department's agents list the open confirmation
tasks and approve or decline them (an Update to the ticket's care workflow, validated there).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from api.deps import (
    AccessDep,
    IdempotencyKeyDep,
    SessionDep,
    SettingsDep,
    TemporalDep,
    require_roles,
)
from api.params import Version
from api.problems import ProblemError, reused_idempotency_key
from api.routes.definitions import _document
from api.schemas import Strict, redactable
from api.workflow_calls import STATUS_OF_ERROR, request_fingerprint, update_id
from domain.care import KEY_PATTERN
from domain.care_flow import (
    CARE_DECIDE_UPDATE,
    MAX_REASON,
    CareDecisionInput,
    CareDecisionResult,
    care_workflow_id,
    may_decide,
)
from domain.problems import Rejected
from domain.ticket import Actor
from policies.authorization import PUBLISH, READ_CARE_STRATEGIES, WORK_TASKS
from policies.customers import customer_domain, customer_view, redact_care_task
from services.care import publish_strategy
from store import care as store
from store import customers as customers_store
from store.models import CareStrategyRow, CareTaskRow

router = APIRouter(tags=["care"])
Publisher = Annotated[Actor, Depends(require_roles(*PUBLISH))]
Reader = Annotated[Actor, Depends(require_roles(*READ_CARE_STRATEGIES))]
Worker = Annotated[Actor, Depends(require_roles(*WORK_TASKS))]
TaskId = Annotated[
    str, Path(min_length=1, max_length=120, description="The care task's id (ticket:action).")
]
StrategyKey = Annotated[str, Path(pattern=KEY_PATTERN, description="The strategy's key.")]


class StrategyDetail(BaseModel):
    """A published strategy version with its full document (calendars inline)."""

    key: str
    version: int
    title: str
    published_at: datetime
    published_by: str
    document: dict[str, Any]


STRATEGY_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {"type": "object"},
                "example": {
                    "key": "after-repair",
                    "title": "After a repair",
                    "rules": [
                        {
                            "name": "vip",
                            "when": {"tiers": ["vip"]},
                            "actions": [
                                {"action": "survey", "delay": "P1D"},
                                {"action": "supervisor_call", "delay": "PT0S", "mode": "confirm"},
                            ],
                        },
                        {"name": "everyone", "actions": [{"action": "survey", "delay": "P3D"}]},
                    ],
                },
            },
            "application/yaml": {"schema": {"type": "string"}},
        },
    }
}


def _detail(row: CareStrategyRow) -> StrategyDetail:
    return StrategyDetail(
        key=row.key,
        version=row.version,
        title=row.title,
        published_at=row.published_at,
        published_by=row.published_by,
        document=row.document,
    )


@router.post(
    "/care/strategies",
    status_code=status.HTTP_201_CREATED,
    response_model=StrategyDetail,
    openapi_extra=STRATEGY_BODY,
)
async def create_strategy(
    request: Request, session: SessionDep, actor: Publisher
) -> StrategyDetail:
    """Check a care strategy (JSON or YAML) completely and publish its next version.

    A 422 lists every problem with its pointer; nothing is stored.
    """
    document = await _document(request)
    try:
        row = await publish_strategy(session=session, document=document, published_by=actor.user)
    except Rejected as exc:
        raise ProblemError(422, "the care strategy is not valid", problems=exc.problems) from exc
    await session.commit()
    return _detail(row)


@router.get("/care/strategies/{key}", response_model=StrategyDetail)
async def latest_strategy(key: StrategyKey, session: SessionDep, _actor: Reader) -> StrategyDetail:
    """The latest version of a strategy."""
    row = await store.get_strategy(session=session, key=key)
    if row is None:
        raise ProblemError(404, f"no care strategy {key}")
    return _detail(row)


@router.get("/care/strategies/{key}/versions/{version}", response_model=StrategyDetail)
async def strategy_version(
    key: StrategyKey, version: Version, session: SessionDep, _actor: Reader
) -> StrategyDetail:
    """One version of a strategy (published versions never change)."""
    row = await store.get_strategy(session=session, key=key, version=version)
    if row is None:
        raise ProblemError(404, f"no care strategy {key}@{version}")
    return _detail(row)


class CareTaskView(BaseModel):
    """A care action waiting for (or given) a person's confirmation, redacted for the caller."""

    model_config = ConfigDict(json_schema_extra=redactable("id", "ticket_key", "status"))

    id: str
    ticket_key: str
    customer_id: str
    action: str
    rule: str
    group: str
    status: str
    opened_at: datetime
    deadline: datetime
    decided_by: str | None
    decided_at: datetime | None
    reason: str


class CareTaskPage(BaseModel):
    """The care department's tasks, soonest deadline first."""

    items: list[CareTaskView]


class DecisionRequest(Strict):
    """Approve a care action (it is sent at once), or decline it with a reason."""

    approve: bool
    reason: str = Field(default="", max_length=MAX_REASON)


def _require_care_department(actor: Actor, department: str) -> None:
    if not may_decide(actor, department):
        raise ProblemError(403, f"only the {department} department works care tasks")


def _task_document(row: CareTaskRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "ticket_key": row.ticket_key,
        "customer_id": row.customer_id,
        "action": row.action,
        "rule": row.rule,
        "group": row.group_name,
        "status": row.status,
        "opened_at": row.opened_at,
        "deadline": row.deadline,
        "decided_by": row.decided_by,
        "decided_at": row.decided_at,
        "reason": row.reason,
    }


@router.get("/care/tasks", response_model=CareTaskPage)
async def list_care_tasks(
    session: SessionDep,
    actor: Worker,
    settings: SettingsDep,
    access: AccessDep,
    task_status: Annotated[
        Literal["open", "approved", "declined", "lapsed", "withdrawn"] | None,
        Query(alias="status", description="Only tasks in this state; default: open ones."),
    ] = "open",
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> JSONResponse:
    """The care department's confirmation tasks, each redacted by its customer's policy.

    Agents of the care department (`TICKETFLOW_CARE_DEPARTMENT`) and admins; others get a 403.
    """
    _require_care_department(actor, settings.care_department)
    rows = await store.care_tasks(
        session=session, group=settings.care_department, status=task_status, limit=limit
    )
    regions = {}
    for customer_id in {row.customer_id for row in rows}:
        customer = await customers_store.get_customer(session=session, customer_id=customer_id)
        regions[customer_id] = customer.region if customer else ""
    items = []
    for row in rows:
        view = customer_view(
            access,
            user=actor.user,
            role=actor.role,
            home=actor.department,
            domain=customer_domain(settings.care_department, regions[row.customer_id]),
        )
        items.append(redact_care_task(jsonable_encoder(_task_document(row)), view))
    return JSONResponse({"items": items})


@router.post("/care/tasks/{task_id}/decision", response_model=CareTaskView)
async def decide_care_task(
    task_id: TaskId,
    body: DecisionRequest,
    session: SessionDep,
    actor: Worker,
    settings: SettingsDep,
    access: AccessDep,
    temporal: TemporalDep,
    idempotency_key: IdempotencyKeyDep,
) -> JSONResponse:
    """Approve or decline an open care task; the care workflow checks and applies it.

    404 for no such task, 409 once it is decided or lapsed, 422 for a refusal without a reason.
    A retry with the same Idempotency-Key returns the first outcome.
    """
    _require_care_department(actor, settings.care_department)
    row = await store.get_care_task(session=session, task_id=task_id)
    if row is None or row.group_name != settings.care_department:
        raise ProblemError(404, f"no care task {task_id}")
    command = CareDecisionInput(
        task_id=task_id, approve=body.approve, reason=body.reason, actor=actor
    )
    fingerprint = request_fingerprint(CARE_DECIDE_UPDATE, command)
    command = command.model_copy(update={"request_fingerprint": fingerprint})
    handle = temporal.get_workflow_handle(care_workflow_id(row.ticket_key))
    try:
        result: CareDecisionResult = await handle.execute_update(
            CARE_DECIDE_UPDATE,
            command,
            id=update_id(
                update=f"care:{CARE_DECIDE_UPDATE}",
                user=actor.user,
                idempotency_key=idempotency_key,
            ),
            result_type=CareDecisionResult,
        )
    except WorkflowUpdateFailedError as exc:
        cause = exc.cause
        if isinstance(cause, ApplicationError) and cause.type in STATUS_OF_ERROR:
            raise ProblemError(STATUS_OF_ERROR[cause.type], cause.message) from exc
        raise
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise ProblemError(409, f"care task {task_id} is {row.status}; its care ended") from exc
        raise ProblemError(
            503, "the workflow service is unavailable; retry", headers={"Retry-After": "2"}
        ) from exc
    if result.request_fingerprint != fingerprint:
        raise reused_idempotency_key("another decision")
    customer = await customers_store.get_customer(session=session, customer_id=row.customer_id)
    view = customer_view(
        access,
        user=actor.user,
        role=actor.role,
        home=actor.department,
        domain=customer_domain(settings.care_department, customer.region if customer else ""),
    )
    document = result.task.model_dump(mode="json")
    return JSONResponse(redact_care_task(document, view))
