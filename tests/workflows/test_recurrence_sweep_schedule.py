"""The recurrence sweep's Schedule on the dev server: a ticket worker starting ensures it on
its own queue, and a run ends the windows that are over."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from temporalio.client import ScheduleActionStartWorkflow
from temporalio.testing import WorkflowEnvironment

from activities.projection import ProjectionActivities
from domain.messages import ProjectionInput
from domain.recurrence import RECURRENCE_SWEEP_WORKFLOW, SWEEP_EVERY, RecurrenceWatchInput
from domain.ticket import TicketStatus
from services.recurrence_sweep import SCHEDULE_ID, ensure_sweep_schedule
from store.models import RecurrenceWatchRow
from tests.dbutil import migrated_sessions, sqlite_url
from tests.store.snapshots import event, snapshot
from ticketflow.settings import Settings
from workers.roots import worker_for_queue

# Bounds the wait on the Schedule's run, so a broken one fails the test instead of hanging.
WAIT_BOUND = 120


async def test_a_ticket_worker_schedules_the_sweep_hourly_and_a_run_ends_windows(
    dev_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    client = dev_env.client
    queue = f"tickets-{uuid.uuid4().hex[:8]}"
    url = sqlite_url(tmp_path)
    now = datetime.now(UTC)
    async with migrated_sessions(url) as sessions:
        projection = ProjectionActivities(sessions)
        for key, closed_at in (("OVER-1", now - timedelta(days=31)), ("OPEN-1", now)):
            await projection.project_ticket(
                ProjectionInput(
                    ticket=snapshot(
                        key, last_seq=2, status=TicketStatus.CLOSED, closed_at=closed_at
                    ),
                    events=[event(1, "created"), event(2, "closed")],
                    recurrence_watch=RecurrenceWatchInput(ticket_key=key, closed_at=closed_at),
                )
            )
        assert await ensure_sweep_schedule(client=client, task_queue="elsewhere") is True
        settings = Settings(database_url=url, task_queue=queue, data_dir=tmp_path)
        # Starting, the ticket worker points the existing Schedule at its own queue.
        worker = await worker_for_queue(
            settings=settings, client=client, task_queue=queue, sessions=sessions
        )
        schedule = client.get_schedule_handle(SCHEDULE_ID)
        try:
            described = (await schedule.describe()).schedule
            action = described.action
            assert isinstance(action, ScheduleActionStartWorkflow)
            assert (action.workflow, action.task_queue) == (RECURRENCE_SWEEP_WORKFLOW, queue)
            assert [i.every for i in described.spec.intervals] == [SWEEP_EVERY]
            async with worker:
                await schedule.trigger()
                async with asyncio.timeout(WAIT_BOUND):
                    while True:
                        async with sessions() as session:
                            over = await session.get_one(RecurrenceWatchRow, "OVER-1")
                        if over.status != "watching":
                            break
                        await asyncio.sleep(0.2)
            async with sessions() as session:
                found = {
                    w.ticket_key: w.status
                    for w in await session.scalars(select(RecurrenceWatchRow))
                }
            assert found == {"OVER-1": "eradicated", "OPEN-1": "watching"}
        finally:
            await schedule.delete()
