"""A loopback HTTP server for the actions, a time-skipping Temporal server and a ticket worker."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.actions.registry import ActionRegistry, action_registry
from tests.activities.endpoint import Endpoint, serving
from tests.activities.probe import ActionProbe
from tests.dbutil import migrated_sessions, sqlite_url
from tests.temporal_env import time_skipping_env
from ticketflow.settings import Settings
from workers.tickets import build_ticket_worker


@pytest.fixture(scope="module")
async def endpoint() -> AsyncIterator[Endpoint]:
    """One HTTP server per test module (tests tell their hits apart by path)."""
    async with serving() as served:
        yield served


@pytest.fixture(scope="module")
async def env() -> AsyncIterator[WorkflowEnvironment]:
    """One time-skipping server per test module."""
    environment = await time_skipping_env()
    try:
        yield environment
    finally:
        await environment.shutdown()


@dataclass
class Actions:
    """A client, the queue the probe workflow runs on, and the queue of the ticket worker."""

    client: Client
    probe_queue: str
    actions_queue: str
    registry: ActionRegistry


@pytest.fixture(scope="module")
async def actions(
    env: WorkflowEnvironment, endpoint: Endpoint, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Actions]:
    """The real ticket worker with the built-in actions allowed to call `endpoint`, and a probe.

    The probe has a queue of its own: the ticket worker would refuse its workflow type.
    """
    registry = action_registry(Settings(http_allowed_hosts=[endpoint.allowed]))
    suffix = uuid.uuid4().hex[:8]
    probe_queue, actions_queue = f"probe-{suffix}", f"tickets-{suffix}"
    data = Path(tmp_path_factory.mktemp("actions"))
    async with (
        migrated_sessions(sqlite_url(data)) as sessions,
        build_ticket_worker(
            client=env.client,
            task_queue=actions_queue,
            sessions=sessions,
            data_dir=data,
            actions=registry,
        ),
        Worker(env.client, task_queue=probe_queue, workflows=[ActionProbe]),
    ):
        yield Actions(env.client, probe_queue, actions_queue, registry)
