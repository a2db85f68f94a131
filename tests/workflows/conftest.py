"""A time-skipping Temporal server and a worker with the real projection into SQLite."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from tests.dbutil import migrated_sessions, sqlite_url
from tests.temporal_env import dev_server_env, time_skipping_env
from workers.tickets import build_ticket_worker


@pytest.fixture(scope="module")
async def env() -> AsyncIterator[WorkflowEnvironment]:
    """One time-skipping server per test module (each has its own clock)."""
    environment = await time_skipping_env()
    try:
        yield environment
    finally:
        await environment.shutdown()


@pytest.fixture(scope="module")
async def dev_env() -> AsyncIterator[WorkflowEnvironment]:
    """A real dev server: Schedules need it (the time-skipping server has none)."""
    environment = await dev_server_env()
    try:
        yield environment
    finally:
        await environment.shutdown()


@dataclass
class Stack:
    """A client, the task queue a worker serves, and the store the projection writes."""

    client: Client
    task_queue: str
    sessions: async_sessionmaker[AsyncSession]


@pytest.fixture
async def stack(env: WorkflowEnvironment, tmp_path: Path) -> AsyncIterator[Stack]:
    """A worker on a fresh task queue, projecting into a fresh SQLite file."""
    queue = f"tickets-{uuid.uuid4().hex[:8]}"
    async with (
        migrated_sessions(sqlite_url(tmp_path)) as sessions,
        build_ticket_worker(client=env.client, task_queue=queue, sessions=sessions),
    ):
        yield Stack(client=env.client, task_queue=queue, sessions=sessions)
