"""Sending Updates and Signals to ticket workflows, with Temporal errors mapped to problems."""

from __future__ import annotations

from pydantic import BaseModel
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from api.problems import ProblemError
from api.schemas import TransitionView
from domain.messages import EXTERNAL_SIGNAL, ExternalEventInput, TransitionResult
from domain.problems import Problem

STATUS_OF_ERROR = {
    "TicketNotFound": 404,
    "TicketConflict": 409,
    "TicketInvalidInput": 422,
    "TicketForbidden": 403,
}


def _rpc_problem(key: str, exc: RPCError) -> ProblemError:
    if exc.status == RPCStatusCode.NOT_FOUND:
        if "completed" in exc.message:
            return ProblemError(409, f"ticket {key} is closed; its workflow has completed")
        return ProblemError(404, f"no ticket {key}")
    if exc.status in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED):
        return ProblemError(
            503,
            "the workflow service is unavailable; retry with the same X-Request-ID",
            headers={"Retry-After": "2"},
        )
    return ProblemError(502, f"workflow service error: {exc.message}")


async def send_update(
    *, client: Client, key: str, update: str, payload: BaseModel, request_id: str
) -> TransitionResult:
    """Run an Update on the ticket; the request id is the Update id, so retries are idempotent."""
    handle = client.get_workflow_handle(key)
    try:
        result: TransitionResult = await handle.execute_update(
            update, payload, id=request_id, result_type=TransitionResult
        )
        return result
    except WorkflowUpdateFailedError as exc:
        cause = exc.cause
        if isinstance(cause, ApplicationError) and cause.type in STATUS_OF_ERROR:
            details = cause.details[0] if cause.details else {}
            problems = [Problem.model_validate(p) for p in details.get("problems", [])]
            raise ProblemError(
                STATUS_OF_ERROR[cause.type], cause.message, problems=problems
            ) from exc
        raise
    except RPCError as exc:
        raise _rpc_problem(key, exc) from exc


async def send_signal(*, client: Client, key: str, signal: ExternalEventInput) -> None:
    """Deliver an outside system's event to the ticket."""
    try:
        await client.get_workflow_handle(key).signal(EXTERNAL_SIGNAL, signal)
    except RPCError as exc:
        raise _rpc_problem(key, exc) from exc


def transition_view(result: TransitionResult) -> TransitionView:
    """The HTTP shape of an Update's result."""
    return TransitionView(
        key=result.key,
        status=result.status.value,
        seq=result.seq,
        task=result.task.model_dump(mode="json") if result.task else None,
    )
