"""CustomerSentimentWorkflow: one per customer, scoring their messages and purging them on time.

One workflow per customer, not per score: a revocation must stop every piece of that
customer's sentiment work and purge all of it at once, which one workflow holding the
customer's queue, their purge timers and the tickets it proposed on does in one place; the
records it waits on share one timer (the earliest due).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, FailureError

with workflow.unsafe.imports_passed_through():
    from domain.sentiment import (
        EXPEDITE_SIGNAL,
        EXPEDITE_WITHDRAW_SIGNAL,
        MESSAGE_SIGNAL,
        PURGE_ACTIVITY,
        REVOKED_SIGNAL,
        SCORE_ACTIVITY,
        SENTIMENT_WORKFLOW,
        CustomerSentimentInput,
        CustomerSentimentResult,
        ExpediteSignal,
        PendingPurge,
        PurgeInput,
        PurgeReason,
        PurgeResult,
        RevokedInput,
        ScoreInput,
        ScoreResult,
        SentimentMessage,
        purge_due,
    )

# Inference takes milliseconds; loading a model after a promotion takes seconds.
SCORE_TIMEOUT = timedelta(seconds=60)
# Scoring is advice: a message that fails this often stays unscored until its purge.
SCORE_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_attempts=5)
PURGE_TIMEOUT = timedelta(seconds=30)
# A purge must land: retried with backoff and without limit, like the projection.
PURGE_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
)


@workflow.defn(name=SENTIMENT_WORKFLOW)
class CustomerSentimentWorkflow:
    """Scores a customer's messages in order; purges each 30 days after it was taken."""

    @workflow.init
    def __init__(self, start: CustomerSentimentInput) -> None:
        self._customer_id = start.customer_id
        self._queue: list[SentimentMessage] = list(start.queued)
        self._pending: list[PendingPurge] = list(start.pending)
        self._proposed_on: list[str] = list(start.proposed_on)
        self._revoked: RevokedInput | None = None
        self._scoring: asyncio.Task[ScoreResult] | None = None
        self._result = CustomerSentimentResult()

    @workflow.signal(name=MESSAGE_SIGNAL)
    def message(self, message: SentimentMessage) -> None:
        """A stored message to score; its purge is due from the moment it was taken."""
        self._queue.append(message)
        self._pending.append(
            PendingPurge(record_id=message.record_id, due_at=purge_due(message.taken_at))
        )

    @workflow.signal(name=REVOKED_SIGNAL)
    def revoked(self, revoked: RevokedInput) -> None:
        """Consent was revoked: scoring under way stops, and everything is purged now."""
        self._revoked = revoked
        if self._scoring is not None:
            self._scoring.cancel()

    @workflow.run
    async def run(self, start: CustomerSentimentInput) -> CustomerSentimentResult:
        """Work until nothing is queued or waits for its purge."""
        while True:
            if self._revoked is not None:
                await self._purge_everything()
            elif self._queue:
                await self._score(start, self._queue.pop(0))
            elif self._pending:
                await self._purge_when_due()
            else:
                await workflow.wait_condition(workflow.all_handlers_finished)
                if not (self._queue or self._pending or self._revoked):
                    return self._result
            if workflow.info().is_continue_as_new_suggested() and self._revoked is None:
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(
                    start.model_copy(
                        update={
                            "queued": self._queue,
                            "pending": self._pending,
                            "proposed_on": self._proposed_on,
                        }
                    )
                )

    async def _score(self, start: CustomerSentimentInput, message: SentimentMessage) -> None:
        self._scoring = workflow.start_activity(
            SCORE_ACTIVITY,
            ScoreInput(
                customer_id=start.customer_id,
                record_id=message.record_id,
                expedite_threshold=start.expedite_threshold,
            ),
            result_type=ScoreResult,
            start_to_close_timeout=SCORE_TIMEOUT,
            retry_policy=SCORE_RETRY,
        )
        try:
            result = await self._scoring
        except (asyncio.CancelledError, ActivityError):
            return  # revoked meanwhile, or the model failed: the text is purged when due
        finally:
            self._scoring = None
        if not result.scored:
            return
        self._result.scored += 1
        if result.expedite and result.ticket_key is not None:
            ticket = workflow.get_external_workflow_handle(result.ticket_key)
            try:
                await ticket.signal(
                    EXPEDITE_SIGNAL,
                    ExpediteSignal(
                        record_id=result.record_id, supervisor_group=start.supervisor_group
                    ),
                )
            except FailureError:
                return  # the ticket's workflow has ended: nothing to expedite
            if result.ticket_key not in self._proposed_on:
                self._proposed_on.append(result.ticket_key)

    async def _purge_when_due(self) -> None:
        due = min(p.due_at for p in self._pending)
        if due > workflow.now():
            try:
                await workflow.wait_condition(
                    lambda: bool(self._queue) or self._revoked is not None,
                    timeout=due - workflow.now(),
                )
                return
            except TimeoutError:
                pass
        now = workflow.now()
        ids = [p.record_id for p in self._pending if p.due_at <= now]
        await self._purge(ids, "retention")
        self._pending = [p for p in self._pending if p.record_id not in ids]

    async def _purge_everything(self) -> None:
        """Purge all the customer's records, and withdraw the proposals still waiting."""
        revoked = self._revoked
        assert revoked is not None
        # What was queued before the revocation is in the purge; what comes after is new.
        self._queue, self._pending = [], []
        await self._purge([], "revoked", everything=True)
        for key in self._proposed_on:
            try:
                await workflow.get_external_workflow_handle(key).signal(
                    EXPEDITE_WITHDRAW_SIGNAL, revoked
                )
            except FailureError:
                continue  # that ticket's workflow has ended
        self._proposed_on = []
        self._result.revoked = True
        if self._revoked is revoked:
            self._revoked = None

    async def _purge(
        self, ids: list[int], reason: PurgeReason, *, everything: bool = False
    ) -> None:
        result = await workflow.execute_activity(
            PURGE_ACTIVITY,
            PurgeInput(
                customer_id=self._customer_id,
                at=workflow.now(),
                record_ids=ids,
                everything=everything,
                reason=reason,
            ),
            result_type=PurgeResult,
            start_to_close_timeout=PURGE_TIMEOUT,
            retry_policy=PURGE_RETRY,
        )
        self._result.purged += result.deleted
