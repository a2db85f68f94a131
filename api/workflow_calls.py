"""Sending Updates and Signals to ticket workflows, with Temporal errors mapped to problems."""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

from pydantic import BaseModel
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from api.problems import ProblemError, reused_idempotency_key
from api.schemas import TransitionView
from domain.messages import EXTERNAL_SIGNAL, ExternalEventInput, TransitionResult, UpdateInput
from domain.problems import Problem
from policies.redaction import TASK_SHAPE, FieldView, redact

STATUS_OF_ERROR = {
    "TicketNotFound": 404,
    "TicketConflict": 409,
    "TicketInvalidInput": 422,
    "TicketForbidden": 403,
}


def rpc_problem(key: str, exc: RPCError) -> ProblemError:
    """The problem answering a workflow service error about this ticket."""
    if exc.status == RPCStatusCode.NOT_FOUND:
        if "completed" in exc.message:
            return ProblemError(409, f"ticket {key} is closed; its workflow has completed")
        return ProblemError(404, f"no ticket {key}")
    if exc.status in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED):
        return ProblemError(
            503,
            "the workflow service is unavailable; retry with the same Idempotency-Key",
            headers={"Retry-After": "2"},
        )
    return ProblemError(502, f"workflow service error: {exc.message}")


# Who asks, and the ids derived from it, are not part of what is asked.
_NOT_ASKED = {"actor", "source", "request_fingerprint", "signal_id"}


def update_id(*, update: str, user: str, idempotency_key: str | None) -> str:
    """The Update id: derived from the Update, the caller and their Idempotency-Key.

    Two callers, or two Updates, never share one; without a key every request is new.
    """
    if idempotency_key is None:
        return str(uuid.uuid4())
    scoped = json.dumps([update, user, idempotency_key], ensure_ascii=False)
    return hashlib.sha256(scoped.encode()).hexdigest()


def request_fingerprint(update: str, payload: BaseModel) -> str:
    """A digest of what the Update asks, without who asks (the Update id names the caller)."""
    asked = payload.model_dump(mode="json", exclude=_NOT_ASKED)
    canonical = json.dumps([update, asked], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


async def send_update(
    *,
    client: Client,
    key: str,
    update: str,
    payload: UpdateInput,
    user: str,
    idempotency_key: str | None,
) -> TransitionResult:
    """Run an Update on the ticket; a retry with the same Idempotency-Key gets its first outcome.

    A reuse of the key with a different request is a 422 and changes nothing.
    """
    fingerprint = request_fingerprint(update, payload)
    payload = payload.model_copy(update={"request_fingerprint": fingerprint})
    handle = client.get_workflow_handle(key)
    try:
        result: TransitionResult = await handle.execute_update(
            update,
            payload,
            id=update_id(update=update, user=user, idempotency_key=idempotency_key),
            result_type=TransitionResult,
        )
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
        raise rpc_problem(key, exc) from exc
    # An outcome recorded before fingerprints existed echoes none: nothing to compare.
    if result.request_fingerprint and result.request_fingerprint != fingerprint:
        raise reused_idempotency_key("another request to this ticket")
    return result


def signal_input(
    *, name: str, user: str, payload: dict[str, Any], idempotency_key: str | None
) -> ExternalEventInput:
    """The signal for an outside system's event, with its id when the sender gave a key."""
    signal = ExternalEventInput(name=name, source=user, payload=payload)
    if idempotency_key is None:
        return signal
    kind = f"signal:{name}"
    return signal.model_copy(
        update={
            "signal_id": update_id(update=kind, user=user, idempotency_key=idempotency_key),
            "request_fingerprint": request_fingerprint(kind, signal),
        }
    )


async def send_signal(*, client: Client, key: str, signal: ExternalEventInput) -> None:
    """Deliver an outside system's event to the ticket."""
    try:
        await client.get_workflow_handle(key).signal(EXTERNAL_SIGNAL, signal)
    except RPCError as exc:
        raise rpc_problem(key, exc) from exc


def transition_view(result: TransitionResult, view: FieldView) -> TransitionView:
    """The HTTP shape of an Update's result, the task redacted like a read of the ticket."""
    task = None
    if result.task is not None and view.readable("tasks"):
        task = redact(result.task.model_dump(mode="json"), view, TASK_SHAPE)
    return TransitionView(key=result.key, status=result.status.value, seq=result.seq, task=task)
