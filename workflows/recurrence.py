"""The recurrence sweep, which ends the 30-day windows that passed without a recurrence, and
RecurrenceWatchWorkflow, the watch of tickets closed before the sweep.

RecurrenceWatchWorkflow stays registered while watches started as workflows still run, or
tickets filed as a recurrence under the older code are still open (they close on the older
path); it can go once neither is left.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from domain.recurrence import (
        END_WINDOWS_ACTIVITY,
        RECORD_RECURRENCE_ACTIVITY,
        RECURRED_SIGNAL,
        RECURRENCE_SWEEP_WORKFLOW,
        RECURRENCE_WATCH_WORKFLOW,
        WATCHING_UPDATE,
        EndWindowsInput,
        EndWindowsResult,
        RecordRecurrenceInput,
        RecordRecurrenceResult,
        RecurredInput,
        RecurrenceWatchInput,
        RecurrenceWatchResult,
        SweepInput,
        SweepResult,
        WatchStarted,
        WatchStep,
    )

# One small idempotent transaction on the closed ticket's rows, retried without limit like the
# ticket's projection: the timeline must say how the watch ended.
RECORD_TIMEOUT = timedelta(seconds=10)
RECORD_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
)
# One batch is one short transaction of at most a few hundred small writes.
SWEEP_BATCH_TIMEOUT = timedelta(minutes=1)


@workflow.defn(name=RECURRENCE_WATCH_WORKFLOW)
class RecurrenceWatchWorkflow:
    """Waits until 30 days after the close; the first recurrence signalled ends it early."""

    def __init__(self) -> None:
        self._recurred_by: str | None = None
        self._started = False

    @workflow.run
    async def run(self, watch: RecurrenceWatchInput) -> RecurrenceWatchResult:
        """Record the watch, wait for a recurrence or the window's end, record the outcome."""
        ends_at = watch.closed_at + watch.window
        await self._record(watch, "started", ends_at)
        self._started = True
        try:
            await workflow.wait_condition(
                lambda: self._recurred_by is not None,
                timeout=max(ends_at - workflow.now(), timedelta(0)),
            )
        except TimeoutError:
            await self._record(watch, "eradicated", ends_at)
            return RecurrenceWatchResult(ticket_key=watch.ticket_key, outcome="eradicated")
        await self._record(watch, "recurred", ends_at)
        return RecurrenceWatchResult(
            ticket_key=watch.ticket_key, outcome="recurred", by=self._recurred_by
        )

    async def _record(
        self, watch: RecurrenceWatchInput, step: WatchStep, ends_at: datetime
    ) -> None:
        record = RecordRecurrenceInput(
            ticket_key=watch.ticket_key,
            step=step,
            at=workflow.now(),
            closed_at=watch.closed_at,
            ends_at=ends_at,
            fingerprint=watch.fingerprint,
            by=self._recurred_by if step == "recurred" else None,
        )
        await workflow.execute_activity(
            RECORD_RECURRENCE_ACTIVITY,
            record,
            result_type=RecordRecurrenceResult,
            start_to_close_timeout=RECORD_TIMEOUT,
            retry_policy=RECORD_RETRY,
        )

    @workflow.update(name=WATCHING_UPDATE)
    async def watching(self) -> WatchStarted:
        """Answer once the watch has recorded that it runs (then it waits on its timer)."""
        await workflow.wait_condition(lambda: self._started)
        info = workflow.info()
        return WatchStarted(workflow_id=info.workflow_id, run_id=info.run_id)

    @workflow.signal(name=RECURRED_SIGNAL)
    def recurred(self, signal: RecurredInput) -> None:
        """A new ticket recurs this one; the first one counts."""
        if self._recurred_by is None:
            self._recurred_by = signal.by


@workflow.defn(name=RECURRENCE_SWEEP_WORKFLOW)
class RecurrenceSweepWorkflow:
    """One sweep run: every window over at its start ends `eradicated`, batch by batch."""

    @workflow.run
    async def run(self, sweep: SweepInput) -> SweepResult:
        """End the windows over at the run's start; the rest (past max_batches) wait a run."""
        until = workflow.now()
        ended = batches = 0
        while batches < sweep.max_batches:
            batch: EndWindowsResult = await workflow.execute_activity(
                END_WINDOWS_ACTIVITY,
                EndWindowsInput(until=until, limit=sweep.batch),
                result_type=EndWindowsResult,
                start_to_close_timeout=SWEEP_BATCH_TIMEOUT,
                retry_policy=RECORD_RETRY,
            )
            ended += batch.ended
            batches += 1
            if batch.found < sweep.batch:
                break
        return SweepResult(ended=ended, batches=batches)
