"""Fresh databases for tests: a SQLite file per test, or a throwaway PostgreSQL database.

PostgreSQL is used when TICKETFLOW_TEST_DATABASE_URL names a server database to connect to
for CREATE/DROP DATABASE (e.g. postgresql://postgres@127.0.0.1:5432/postgres).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from store.db import make_async_engine, make_sessionmaker, sync_url
from store.migrate import upgrade_database

POSTGRES_ENV = "TICKETFLOW_TEST_DATABASE_URL"
POSTGRES_SKIP_REASON = (
    f"{POSTGRES_ENV} is not set; set it to a PostgreSQL server URL "
    "(e.g. postgresql://postgres@127.0.0.1:5432/postgres) to run the PostgreSQL variant"
)
DATABASE_KINDS = ("sqlite", "postgresql")


def sqlite_url(tmp_path: Path) -> str:
    """The URL of a SQLite file inside this test's temporary directory."""
    return f"sqlite:///{tmp_path / 'ticketflow.db'}"


def postgres_server_url() -> str | None:
    """The PostgreSQL server URL from the environment, or None when not configured."""
    return os.environ.get(POSTGRES_ENV) or None


def database_params() -> list[Any]:
    """pytest params for each backend; PostgreSQL is skipped when it is not configured."""
    return [
        pytest.param("sqlite", id="sqlite"),
        pytest.param(
            "postgresql",
            id="postgresql",
            marks=[
                pytest.mark.postgres,
                pytest.mark.skipif(postgres_server_url() is None, reason=POSTGRES_SKIP_REASON),
            ],
        ),
    ]


@contextmanager
def fresh_postgres_database(server_url: str) -> Iterator[str]:
    """Create a uniquely named empty database, yield its URL, then drop it (FORCE)."""
    name = f"tf_test_{uuid.uuid4().hex[:16]}"
    admin = create_engine(sync_url(server_url), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@contextmanager
def fresh_database(kind: str, tmp_path: Path) -> Iterator[str]:
    """An empty database of this kind ("sqlite" or "postgresql") for the duration."""
    if kind == "sqlite":
        yield sqlite_url(tmp_path)
        return
    if kind != "postgresql":
        raise ValueError(f"unknown database kind {kind!r}")
    server_url = postgres_server_url()
    if server_url is None:
        # database_params() already skips this parameter when PostgreSQL is not configured.
        raise RuntimeError(POSTGRES_SKIP_REASON)
    with fresh_postgres_database(server_url) as url:
        yield url


@asynccontextmanager
async def migrated_sessions(url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Migrate the database to head and yield a session factory; the engine is disposed after."""
    upgrade_database(url=url)
    engine = make_async_engine(url)
    try:
        yield make_sessionmaker(engine)
    finally:
        await engine.dispose()
