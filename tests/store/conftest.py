"""Database fixtures: every store test runs on SQLite and, when configured, PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.dbutil import database_params, fresh_database, migrated_sessions


@pytest.fixture(params=database_params())
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database, SQLite or PostgreSQL, dropped after the test."""
    with fresh_database(request.param, tmp_path) as url:
        yield url


@pytest.fixture(params=database_params())
def migrated_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database at head, SQLite or PostgreSQL, dropped after the test."""
    with fresh_database(request.param, tmp_path, migrated=True) as url:
        yield url


@pytest.fixture
async def session_factory(
    migrated_database_url: str,
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions on a freshly migrated database."""
    async with migrated_sessions(migrated_database_url) as factory:
        yield factory
