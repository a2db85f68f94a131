"""SubscriptionWorkflow: one per subscription, delivering the outbox in order, durably.

Rows are read in outbox order; within a batch each ticket's events go out one after another
(ordered per ticket, one activity per ticket's rows) while different tickets' go out side by
side. A failed event is retried by its activity's retry policy, with backoff, for the
subscription's retry period; one that still fails pauses the subscription until a resume
signal. The ticket workflows never wait on this.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from domain.events_out import (
        DELIVER_ACTIVITY,
        NEXT_BATCH_ACTIVITY,
        PAUSE_ACTIVITY,
        RESUME_SIGNAL,
        SUBSCRIPTION_WORKFLOW,
        DeliverInput,
        DeliverResult,
        NextBatchInput,
        NextBatchResult,
        OutboxItem,
        PauseInput,
        PauseResult,
        SubscriptionStart,
    )

# The reader waits this long for new rows per call, heartbeating.
WAIT = timedelta(seconds=20)
READ_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200), maximum_interval=timedelta(seconds=10)
)
WRITE_RETRY = READ_RETRY
# Continue as new after this many batches (or sooner, when Temporal suggests it), so a
# subscription's history stays short to replay.
BATCHES_PER_RUN = 500


@workflow.defn(name=SUBSCRIPTION_WORKFLOW)
class SubscriptionWorkflow:
    """Follows the outbox from a position and delivers every row to one subscription."""

    def __init__(self) -> None:
        self._after = 0
        self._paused = False
        self._resumed = False

    @workflow.signal(name=RESUME_SIGNAL)
    def resume(self) -> None:
        """Start delivering again after a pause (the subscription was set active)."""
        self._resumed = True

    @workflow.run
    async def run(self, start: SubscriptionStart) -> None:
        """Deliver forever (continuing as new now and then); paused while a row keeps failing."""
        self._after, self._paused = start.after, start.paused
        for _ in range(BATCHES_PER_RUN):
            if self._paused:
                await workflow.wait_condition(lambda: self._resumed)
                self._paused = self._resumed = False
            batch = await workflow.execute_activity(
                NEXT_BATCH_ACTIVITY,
                NextBatchInput(
                    subscription_id=start.subscription_id,
                    after=self._after,
                    wait_seconds=WAIT.total_seconds(),
                ),
                result_type=NextBatchResult,
                start_to_close_timeout=WAIT * 2,
                heartbeat_timeout=timedelta(seconds=10),
                retry_policy=READ_RETRY,
            )
            if workflow.info().is_continue_as_new_suggested():
                break  # the batch just read is read again by the next run
            if not batch.items:
                continue
            failure = await self._deliver(start, batch.items)
            if failure is None:
                self._after = batch.items[-1].position
                continue
            await workflow.execute_activity(
                PAUSE_ACTIVITY,
                PauseInput(subscription_id=start.subscription_id, reason=failure),
                result_type=PauseResult,
                start_to_close_timeout=timedelta(seconds=10),
                retry_policy=WRITE_RETRY,
            )
            self._paused = True
        await workflow.wait_condition(workflow.all_handlers_finished)
        workflow.continue_as_new(
            start.model_copy(update={"after": self._after, "paused": self._paused})
        )

    async def _deliver(self, start: SubscriptionStart, items: list[OutboxItem]) -> str | None:
        """Deliver a batch, one lane per ticket; why the first failed lane failed, or None."""
        lanes: dict[str, list[OutboxItem]] = {}
        for item in items:
            lanes.setdefault(item.ticket_key, []).append(item)
        failures = await asyncio.gather(*(self._lane(start, lane) for lane in lanes.values()))
        return next((f for f in failures if f is not None), None)

    async def _lane(self, start: SubscriptionStart, items: list[OutboxItem]) -> str | None:
        policy = RetryPolicy(
            initial_interval=timedelta(seconds=1),
            backoff_coefficient=2.0,
            maximum_interval=start.max_backoff,
        )
        key = items[0].ticket_key
        try:
            await workflow.execute_activity(
                DELIVER_ACTIVITY,
                DeliverInput(subscription_id=start.subscription_id, ticket_key=key, items=items),
                result_type=DeliverResult,
                start_to_close_timeout=timedelta(seconds=30) + timedelta(seconds=10) * len(items),
                schedule_to_close_timeout=start.retry_for,
                retry_policy=policy,
            )
        except ActivityError as exc:
            return f"events of {key}: {exc.cause or exc}"
        return None
