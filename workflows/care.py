"""CareWorkflow: the after-sales care of one closed ticket, on durable timers over weeks."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from domain.action_failures import FAILED, REFUSED
    from domain.care import PlannedAction, plan_care
    from domain.care_flow import (
        CARE_DECIDE_UPDATE,
        CARE_PURPOSE,
        CARE_RECORD_ACTIVITY,
        CARE_REVOKED_SIGNAL,
        CARE_SEND_ACTIVITY,
        CARE_WORKFLOW,
        MESSAGE_ACTIONS,
        CareDecisionInput,
        CareDecisionRefused,
        CareDecisionResult,
        CareInput,
        CareRecord,
        CareRecordResult,
        CareResult,
        CareSendInput,
        CareSendResult,
        CareTask,
        ConsentRevokedInput,
        Outcome,
        RecordType,
        action_data,
        care_task_id,
        check_decision,
        decide,
        started_data,
    )

# The API maps these to HTTP statuses, as it does the ticket's.
ERROR_TYPES = {
    "not_found": "TicketNotFound",
    "conflict": "TicketConflict",
    "invalid": "TicketInvalidInput",
    "forbidden": "TicketForbidden",
}
# A record is one small idempotent write (per ticket and care_seq): retried until it lands.
RECORD_TIMEOUT = timedelta(seconds=10)
RECORD_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
)
# One webhook call; the channel may be down for a while, so attempts spread over about an hour.
# A refusal (off the allow-list) or a 4xx answer is final at once.
SEND_TIMEOUT = timedelta(seconds=30)
SEND_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=5),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=15),
    maximum_attempts=8,
    non_retryable_error_types=[REFUSED, FAILED],
)


def _failure(exc: ActivityError) -> str:
    cause = exc.cause or exc
    if isinstance(cause, ApplicationError) and cause.type:
        return f"{cause.type}: {cause.message}"
    return str(cause)


@workflow.defn(name=CARE_WORKFLOW)
class CareWorkflow:
    """Runs the planned actions of one ticket's care, each on its own durable timer."""

    @workflow.init
    def __init__(self, start: CareInput) -> None:
        self._start = start
        self._plan = plan_care(start.strategy, start.customer, start.ticket, start.closed_at)
        self._seq = 0
        self._revoked_at: datetime | None = None
        self._tasks: dict[str, CareTask] = {}
        self._outcomes: dict[str, Outcome] = {}

    @workflow.run
    async def run(self, start: CareInput) -> CareResult:
        """Record the plan, run every action when it is due, record how each ended."""
        await self._record("care_started", started_data(start.strategy, self._plan))
        await asyncio.gather(*(self._run_action(planned) for planned in self._plan))
        await self._record("care_ended", {"outcomes": dict(self._outcomes)})
        await workflow.wait_condition(workflow.all_handlers_finished)
        return CareResult(ticket_key=start.ticket.key, outcomes=self._outcomes)

    def _stopped(self, planned: PlannedAction) -> bool:
        """A message whose consent was revoked since the care started."""
        return planned.action in MESSAGE_ACTIONS and self._revoked_at is not None

    async def _run_action(self, planned: PlannedAction) -> None:
        await self._wait(planned.due_at - workflow.now(), lambda: self._stopped(planned))
        if self._stopped(planned):
            await self._end(planned, "stopped", revoked_at=self._revoked_iso())
            return
        if planned.mode == "confirm" and not await self._confirmed(planned):
            return
        await self._send(planned)

    async def _wait(self, delay: timedelta, stop: Callable[[], bool]) -> None:
        """Sleep on one durable timer for `delay`, waking early when `stop` holds."""
        if delay <= timedelta(0):
            return
        with contextlib.suppress(TimeoutError):  # the timer fired: it is due
            await workflow.wait_condition(stop, timeout=delay)

    async def _confirmed(self, planned: PlannedAction) -> bool:
        """Open a task for the care department; true once a person approves it in time."""
        start, now = self._start, workflow.now()
        task = CareTask(
            id=care_task_id(start.ticket.key, planned.action),
            ticket_key=start.ticket.key,
            customer_id=start.customer.id,
            action=planned.action,
            rule=planned.rule,
            group=start.department,
            opened_at=now,
            deadline=now + start.confirm_within,
        )
        self._tasks[task.id] = task
        await self._record(
            "care_action",
            action_data(
                planned,
                "awaiting_confirmation",
                task=task.id,
                group=task.group,
                deadline=task.deadline.isoformat(),
            ),
            task=task,
        )
        await self._wait(
            task.deadline - workflow.now(),
            lambda: task.status != "open" or self._stopped(planned),
        )
        if task.status == "open":
            stopped = self._stopped(planned)
            task.status = "withdrawn" if stopped else "lapsed"
            outcome: Outcome = "stopped" if stopped else "lapsed"
            await self._end(planned, outcome, task=task, revoked_at=self._revoked_iso())
            return False
        # The Update recorded the decision; a refusal ends the action here.
        if task.status != "approved":
            self._outcomes[planned.action] = "declined"
            return False
        if self._stopped(planned):
            await self._end(planned, "stopped", task=task, revoked_at=self._revoked_iso())
            return False
        return True

    async def _send(self, planned: PlannedAction) -> None:
        start = self._start
        call = CareSendInput(
            ticket_key=start.ticket.key,
            customer_id=start.customer.id,
            action=planned.action,
            rule=planned.rule,
            due_at=planned.due_at,
            params=planned.params,
            message=planned.action in MESSAGE_ACTIONS,
        )
        try:
            sent = await workflow.execute_activity(
                CARE_SEND_ACTIVITY,
                call,
                result_type=CareSendResult,
                start_to_close_timeout=SEND_TIMEOUT,
                retry_policy=SEND_RETRY,
            )
        except ActivityError as exc:
            await self._end(planned, "failed", error=_failure(exc))
            return
        await self._end(planned, sent.outcome, channel=sent.channel, status=sent.status)

    async def _end(
        self,
        planned: PlannedAction,
        outcome: Outcome,
        *,
        task: CareTask | None = None,
        **extra: Any,
    ) -> None:
        """Record how an action ended (and the task it closes, if any)."""
        self._outcomes[planned.action] = outcome
        data = action_data(planned, outcome, task=task.id if task else None, **extra)
        await self._record("care_action", data, task=task)

    def _revoked_iso(self) -> str | None:
        return self._revoked_at.isoformat() if self._revoked_at else None

    async def _record(
        self,
        type_: RecordType,
        data: dict[str, Any],
        *,
        task: CareTask | None = None,
        actor: str = "system",
    ) -> None:
        """Keep one step on the ticket's timeline and in the customer's history, once."""
        self._seq += 1
        record = CareRecord(
            ticket_key=self._start.ticket.key,
            care_seq=self._seq,
            customer_id=self._start.customer.id,
            type=type_,
            at=workflow.now(),
            actor=actor,
            data=data,
            task=task.model_copy() if task else None,
        )
        await workflow.execute_local_activity(
            CARE_RECORD_ACTIVITY,
            record,
            result_type=CareRecordResult,
            start_to_close_timeout=RECORD_TIMEOUT,
            retry_policy=RECORD_RETRY,
        )

    # -- the customer's revocation, and people's decisions ---------------------------------

    @workflow.signal(name=CARE_REVOKED_SIGNAL)
    def consent_revoked(self, revoked: ConsentRevokedInput) -> None:
        """The customer revoked consent: messages not yet sent stop at once."""
        if revoked.purpose == CARE_PURPOSE and self._revoked_at is None:
            self._revoked_at = revoked.at

    @workflow.update(name=CARE_DECIDE_UPDATE)
    async def decide(self, cmd: CareDecisionInput) -> CareDecisionResult:
        """Approve or decline an open confirmation task."""
        task = self._checked(cmd)
        decide(task, cmd, workflow.now())
        planned = next(p for p in self._plan if p.action == task.action)
        outcome: Outcome = "approved" if cmd.approve else "declined"
        await self._record(
            "care_action",
            action_data(planned, outcome, task=task.id, by=cmd.actor.user, reason=cmd.reason),
            task=task,
            actor=cmd.actor.user,
        )
        return CareDecisionResult(
            task=task.model_copy(), request_fingerprint=cmd.request_fingerprint
        )

    @decide.validator
    def _validate_decide(self, cmd: CareDecisionInput) -> None:
        self._checked(cmd)

    def _checked(self, cmd: CareDecisionInput) -> CareTask:
        try:
            return check_decision(self._tasks, cmd)
        except CareDecisionRefused as exc:
            raise ApplicationError(
                exc.message, type=ERROR_TYPES[exc.kind], non_retryable=True
            ) from None

    @workflow.query
    def tasks(self) -> list[CareTask]:
        """The confirmation tasks opened so far."""
        return list(self._tasks.values())
