"""The problem scan on the dev server: its Schedule on the training queue, and a real run."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select
from temporalio.client import ScheduleActionStartWorkflow
from temporalio.testing import WorkflowEnvironment

from domain.problem_candidates import PROBLEM_SCAN_WORKFLOW, ProblemScanInput
from services.problems import SCHEDULE_ID, ensure_problem_schedule, scan_problems_now
from store.models import ProblemRow, ProblemTicketRow
from tests.dbutil import migrated_sessions, sqlite_url
from tests.problems import history, seed
from workers.training import build_training_worker

# Bounds the wait on the Schedule's run, so a broken one fails the test instead of hanging.
WAIT_BOUND = 120


async def test_the_schedule_runs_the_scan_on_the_training_queue(
    dev_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    client = dev_env.client
    queue = f"training-{uuid.uuid4().hex[:8]}"
    async with migrated_sessions(sqlite_url(tmp_path)) as sessions:
        tickets, caused = history(datetime.now(UTC))
        await seed(sessions, "INC", tickets)
        assert await ensure_problem_schedule(client=client, task_queue="elsewhere") is True
        # A worker starting later points the existing Schedule at its own queue.
        assert await ensure_problem_schedule(client=client, task_queue=queue) is False
        schedule = client.get_schedule_handle(SCHEDULE_ID)
        try:
            action = (await schedule.describe()).schedule.action
            assert isinstance(action, ScheduleActionStartWorkflow)
            assert (action.workflow, action.task_queue) == (PROBLEM_SCAN_WORKFLOW, queue)
            async with build_training_worker(
                client=client, task_queue=queue, sessions=sessions, data_dir=tmp_path
            ):
                await schedule.trigger()
                async with asyncio.timeout(WAIT_BOUND):
                    while True:
                        async with sessions() as session:
                            rows = (await session.scalars(select(ProblemRow))).all()
                        if rows:
                            break
                        await asyncio.sleep(0.2)
                # The default week of tickets holds most of the outages: one candidate.
                (row,) = rows
                assert row.status == "proposed"
                async with sessions() as session:
                    linked = set((await session.scalars(select(ProblemTicketRow.ticket_key))).all())
                assert linked == set(row.candidate["tickets"])
                # On demand, over all ten days: the same record, now with every outage.
                result = await scan_problems_now(
                    client=client, task_queue=queue, request=ProblemScanInput(days=11)
                )
                assert (result.tickets, result.candidates, result.proposed) == (len(tickets), 1, 0)
                async with sessions() as session:
                    (row,) = (await session.scalars(select(ProblemRow))).all()
                assert {f"INC-{k}" for k in caused} <= set(row.candidate["tickets"])
        finally:
            await schedule.delete()
