"""The ticket worker's workflow cache is bounded by the setting."""

from __future__ import annotations

from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from tests.dbutil import migrated_sessions, sqlite_url
from ticketflow.settings import Settings
from workers.tickets import build_ticket_worker


async def test_the_ticket_worker_caches_as_many_workflows_as_the_setting_says(
    env: WorkflowEnvironment, tmp_path: Path
) -> None:
    async with migrated_sessions(sqlite_url(tmp_path)) as sessions:
        worker = build_ticket_worker(
            client=env.client,
            task_queue="cache-bound",
            sessions=sessions,
            settings=Settings(worker_max_cached_workflows=25),
        )
        assert worker.config()["max_cached_workflows"] == 25
