"""The API over real HTTP semantics (httpx + ASGI), a real dev server, worker and database."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from api.app import create_app, deploy
from domain.events_out import subscription_workflow_id
from store.models import SubscriptionRow, UserRow
from store.users import hash_token, new_token
from tests.dbutil import database_params, fresh_database, migrated_sessions
from tests.temporal_env import dev_server_env
from ticketflow.settings import Settings
from workers.tickets import build_ticket_worker

USERS = {
    "owner": ("process-office", "process_owner"),
    "rita": ("sales", "requester"),
    "sam": ("sales", "requester"),
    "dana": ("service-desk", "agent"),
    "dora": ("service-desk", "agent"),
    "otto": ("ops", "agent"),
    "devi": ("dev", "agent"),
    "audrey": ("audit", "auditor"),
    "monitor": ("it", "system"),
    "root": ("it", "admin"),
}


@pytest.fixture(scope="session")
async def dev_env() -> AsyncIterator[WorkflowEnvironment]:
    """One real Temporal dev server for the API tests."""
    environment = await dev_server_env()
    try:
        yield environment
    finally:
        await environment.shutdown()


@pytest.fixture(params=database_params())
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database at head, SQLite or PostgreSQL, dropped after the test."""
    with fresh_database(request.param, tmp_path, migrated=True) as url:
        yield url


@dataclass
class Api:
    """An HTTP client on the app, with a token per test user."""

    http: httpx.AsyncClient
    env: WorkflowEnvironment
    sessions: async_sessionmaker[AsyncSession]
    prefix: str
    tokens: dict[str, str] = field(default_factory=dict)
    task_queue: str = ""
    scratch: dict[str, str] = field(default_factory=dict)
    data_dir: Path = field(default_factory=Path)  # where the worker reads triage models

    def auth(self, user: str) -> dict[str, str]:
        """Authorization header for a test user."""
        return {"Authorization": f"Bearer {self.tokens[user]}"}


async def seed_users(sessions: async_sessionmaker[AsyncSession]) -> dict[str, str]:
    """Add the test users (USERS) in one INSERT; returns each one's token.

    The rows are those `add_user` writes (its checks have their own tests); one statement
    instead of a lookup and a flush per user takes a good part off every HTTP test's setup.
    """
    tokens = {name: new_token() for name in USERS}
    now = datetime.now(UTC)
    async with sessions() as session, session.begin():
        session.add_all(
            UserRow(
                name=name,
                department=department,
                role=role,
                token_hash=hash_token(tokens[name]),
                created_at=now,
                note="",
            )
            for name, (department, role) in USERS.items()
        )
    return tokens


@pytest.fixture
def api_settings(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Settings a test changes for its app (parametrize this fixture indirectly); none else."""
    changed: dict[str, Any] = getattr(request, "param", {})
    return changed


# Idle apps by their settings (but the database and task queue), deployed again for the next
# test that needs one so: FastAPI analyses every route of a new app on its first requests, a
# good part of a short test's time.
_IDLE_APPS: dict[str, list[FastAPI]] = {}


def _revealed(value: Any) -> Any:
    return value.get_secret_value() if isinstance(value, SecretStr) else str(value)


@contextmanager
def app_on(
    settings: Settings, temporal: Client, sessions: async_sessionmaker[AsyncSession]
) -> Iterator[FastAPI]:
    """An app with these settings on this database and Temporal client, its caches, limits and
    metrics fresh: an idle app of an earlier test's with the same settings, deployed again."""
    key = json.dumps(
        settings.model_dump(exclude={"database_url", "task_queue"}),
        sort_keys=True,
        default=_revealed,
    )
    idle = _IDLE_APPS.setdefault(key, [])
    if idle:
        app = idle.pop()
        deploy(app, settings, temporal=temporal, sessions=sessions)
    else:
        app = create_app(settings, temporal=temporal, sessions=sessions)
    try:
        yield app
    finally:
        idle.append(app)


@pytest.fixture
async def api(
    dev_env: WorkflowEnvironment, database_url: str, tmp_path: Path, api_settings: dict[str, Any]
) -> AsyncIterator[Api]:
    """The app (an idle one deployed again, see `app_on`) on a migrated database of the test's
    own, with a worker on its own task queue."""
    queue = f"api-{uuid.uuid4().hex[:8]}"
    settings = Settings(
        database_url=database_url, task_queue=queue, max_body_bytes=64_000, **api_settings
    )
    async with migrated_sessions(database_url) as sessions:
        tokens = await seed_users(sessions)
        with app_on(settings, dev_env.client, sessions) as app:
            transport = httpx.ASGITransport(app=app)
            async with (
                build_ticket_worker(
                    client=dev_env.client, task_queue=queue, sessions=sessions, data_dir=tmp_path
                ),
                app.router.lifespan_context(app),
                httpx.AsyncClient(transport=transport, base_url="http://ticketflow.test") as http,
            ):
                # Tests share one Temporal server but not a database: a key prefix of their own
                # keeps their ticket keys (workflow ids) apart.
                prefix = "T" + uuid.uuid4().hex[:8].upper()
                yield Api(
                    http=http,
                    env=dev_env,
                    sessions=sessions,
                    prefix=prefix,
                    tokens=tokens,
                    task_queue=queue,
                    data_dir=tmp_path,
                )


@asynccontextmanager
async def subscribing_api(
    env: WorkflowEnvironment, settings: Settings, tmp_path: Path, prefix: str
) -> AsyncIterator[Api]:
    """The app and a worker sharing `settings` (the worker delivers subscriptions with them).

    The subscriptions' delivery workflows outlive the test on the shared server; they are
    terminated after it.
    """
    async with migrated_sessions(settings.database_url) as sessions:
        tokens = await seed_users(sessions)
        with app_on(settings, env.client, sessions) as app:
            async with (
                build_ticket_worker(
                    client=env.client,
                    task_queue=settings.task_queue,
                    sessions=sessions,
                    data_dir=tmp_path,
                    settings=settings,
                ),
                app.router.lifespan_context(app),
                httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=app), base_url="http://ticketflow.test"
                ) as http,
            ):
                try:
                    yield Api(
                        http=http,
                        env=env,
                        sessions=sessions,
                        prefix=prefix + uuid.uuid4().hex[:8].upper(),
                        tokens=tokens,
                        task_queue=settings.task_queue,
                    )
                finally:
                    async with sessions() as session:
                        ids = list(await session.scalars(select(SubscriptionRow.id)))
                    for sid in ids:
                        await env.client.get_workflow_handle(
                            subscription_workflow_id(sid)
                        ).terminate()
