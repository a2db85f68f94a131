"""The recurrence watch's activities: the sweep that ends windows, and (for watches started
as workflows of their own, before closes recorded them) starting one and writing its steps."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError

from domain.recurrence import (
    END_WINDOWS_ACTIVITY,
    RECORD_RECURRENCE_ACTIVITY,
    RECURRENCE_WATCH_WORKFLOW,
    START_WATCH_ACTIVITY,
    WATCHING_UPDATE,
    EndWindowsInput,
    EndWindowsResult,
    RecordRecurrenceInput,
    RecordRecurrenceResult,
    RecurrenceWatchInput,
    WatchStarted,
    watch_workflow_id,
)
from store.recurrence import UnknownTicket, end_windows, record_step


class RecurrenceActivities:
    """Holds the client that starts watches, and the store and writers' queue they write to."""

    def __init__(
        self,
        client: Client,
        sessions: async_sessionmaker[AsyncSession],
        write_turn: AbstractAsyncContextManager[object],
        *,
        start_watches: bool = True,
    ) -> None:
        self._client = client
        self._start_watches = start_watches
        self._sessions = sessions
        self._write_turn = write_turn

    @activity.defn(name=START_WATCH_ACTIVITY)
    async def start_recurrence_watch(self, watch: RecurrenceWatchInput) -> WatchStarted:
        """Start the closed ticket's watch on this worker's queue (once per ticket) and answer
        when it has recorded that it runs.

        A workflow of its own rather than a child of the ticket's: it outlives the ticket's
        workflow, which ends at close, and nothing reports its end to a closed parent. Waiting
        for its first step means the ticket's workflow ends with its watch idle on its timer.
        """
        workflow_id = watch_workflow_id(watch.ticket_key)
        if not self._start_watches:
            return WatchStarted(workflow_id=workflow_id)
        try:
            handle = await self._client.start_workflow(
                RECURRENCE_WATCH_WORKFLOW,
                watch,
                id=workflow_id,
                task_queue=activity.info().task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            )
        except WorkflowAlreadyStartedError:
            return WatchStarted(workflow_id=workflow_id)  # it ran and has ended
        started: WatchStarted = await handle.execute_update(
            WATCHING_UPDATE, result_type=WatchStarted, id=f"{workflow_id}:watching"
        )
        return started

    @activity.defn(name=RECORD_RECURRENCE_ACTIVITY)
    async def record_recurrence(self, record: RecordRecurrenceInput) -> RecordRecurrenceResult:
        """Write the step's timeline event and the watch row in one transaction, once."""
        try:
            async with self._write_turn, self._sessions() as session, session.begin():
                seq = await record_step(session=session, record=record)
        except UnknownTicket as exc:
            raise ApplicationError(
                f"no ticket {exc} in the database", type="UnknownTicket", non_retryable=True
            ) from exc
        return RecordRecurrenceResult(seq=seq)

    @activity.defn(name=END_WINDOWS_ACTIVITY)
    async def end_recurrence_windows(self, batch: EndWindowsInput) -> EndWindowsResult:
        """Record `eradicated` for one batch of windows over by `batch.until`, in one
        transaction; a rerun finds them decided and ends only those still watching."""
        async with self._write_turn, self._sessions() as session, session.begin():
            found, ended = await end_windows(session=session, until=batch.until, limit=batch.limit)
        return EndWindowsResult(found=found, ended=ended)
