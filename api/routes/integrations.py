"""Inbound connectors: another system's events file a ticket, or signal its open one.

A delivery is a system account's (bearer token, role `system`) and is signed Standard
Webhooks style with its connector's secret; the signature is checked over the raw body before
anything of it is parsed, and a refused delivery records nothing. The `webhook-id` header is
the event id: the same id twice files one ticket and records one signal.
"""

from __future__ import annotations

import json
import time
from typing import Annotated, Any

from anyio import to_thread
from fastapi import APIRouter, Depends, Path, Request, Response, status
from temporalio.service import RPCError

from api.body_guard import DETAIL, body_problems
from api.deps import SessionDep, SettingsDep, TemporalDep, require_roles
from api.problems import PROBLEM_JSON, ProblemError, reused_idempotency_key
from domain.inbound import CREATED, MAX_EVENT_ID, InboundAnswer
from domain.problems import Problem, Rejected
from domain.ticket import Actor
from domain.webhook_signatures import ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, verified
from policies.roles import SYSTEM
from services.inbound import receive_event
from services.ticket_creation import IdempotencyMismatch, KeyCollisions

router = APIRouter(tags=["integrations"])

System = Annotated[Actor, Depends(require_roles(SYSTEM))]
ConnectorName = Annotated[str, Path(max_length=63, description="A configured connector's name.")]


def _problem(description: str) -> dict[str, Any]:
    reference = {"$ref": "#/components/schemas/ProblemDocument"}
    return {"description": description, "content": {PROBLEM_JSON: {"schema": reference}}}


# The body is read raw (its signature is checked first): any JSON object the mapping reads.
EVENT_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"type": "object"}}},
    }
}


@router.post(
    "/integrations/{connector}/events",
    response_model=InboundAnswer,
    status_code=status.HTTP_202_ACCEPTED,
    openapi_extra=EVENT_BODY,
    responses={
        200: {"description": "This event id was received before: its ticket, nothing new."},
        201: {"description": "The event filed a new ticket."},
        401: _problem("The delivery is not signed with the connector's secret."),
        404: _problem("No such connector is configured."),
        422: _problem("The event does not map to an intake (pointers into the event)."),
        503: _problem("The workflow service is unavailable: redeliver."),
    },
)
async def inbound_event(
    connector: ConnectorName,
    request: Request,
    response: Response,
    actor: System,
    session: SessionDep,
    settings: SettingsDep,
    temporal: TemporalDep,
) -> InboundAnswer:
    """Receive one event of another system: 201 filed a ticket, 202 signalled the open ticket
    of its correlation key, 200 a repeat of an event id (its ticket, nothing new)."""
    found = next((c for c in settings.connectors if c.name == connector), None)
    if found is None:
        raise ProblemError(404, f"no connector {connector!r} is configured")
    body = await request.body()
    if not all(h in request.headers for h in (ID_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER)):
        raise ProblemError(
            401,
            f"sign the delivery Standard Webhooks style: {ID_HEADER}, {TIMESTAMP_HEADER}, "
            f"{SIGNATURE_HEADER}",
        )
    if not verified(found.key(), request.headers, body, int(time.time())):
        raise ProblemError(
            401, "the signature does not match the connector's secret, or its time is too far off"
        )
    event_id = request.headers[ID_HEADER]
    if not event_id or len(event_id) > MAX_EVENT_ID:
        detail = f"{ID_HEADER} is the event id: 1 to {MAX_EVENT_ID} characters"
        raise ProblemError(
            422, detail, problems=[Problem(pointer=f"header:/{ID_HEADER}", detail=detail)]
        )
    problems = await to_thread.run_sync(body_problems, body)
    if problems:
        raise ProblemError(422, DETAIL, problems=problems)
    try:
        document = json.loads(body)
    except ValueError as exc:
        raise ProblemError(
            422, "the event is not JSON", problems=[Problem(pointer="", detail=str(exc))]
        ) from exc
    try:
        answer = await receive_event(
            session=session,
            client=temporal,
            task_queue=settings.task_queue,
            connector=found,
            event_id=event_id,
            document=document,
            caller=actor,
        )
    except Rejected as exc:
        raise ProblemError(422, "the event does not make a ticket", problems=exc.problems) from exc
    except IdempotencyMismatch as exc:
        raise reused_idempotency_key("another event") from exc
    except (RPCError, KeyCollisions) as exc:
        raise ProblemError(
            503,
            f"the event could not reach its ticket: {exc}; redeliver it",
            headers={"Retry-After": "2"},
        ) from exc
    if answer.replayed:
        response.status_code = status.HTTP_200_OK
    elif answer.action == CREATED:
        response.status_code = status.HTTP_201_CREATED
    return answer
