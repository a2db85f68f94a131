"""The next-version insert behind every publish: it retries collisions, then gives up clearly."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.publishing import PUBLISH_ATTEMPTS, PublishContention, insert_next_version
from store import definitions as store
from store.models import FormRow

Sessions = async_sessionmaker[AsyncSession]
SCHEMA = {"type": "object"}


async def _insert_form(session: AsyncSession, version: int) -> FormRow:
    return await store.insert_form(
        session=session,
        key="contact",
        version=version,
        title="Contact",
        schema=SCHEMA,
        published_by="owner",
        now=datetime.now(UTC),
    )


async def test_a_version_taken_every_time_ends_in_contention_and_stores_nothing(
    session_factory: Sessions,
) -> None:
    async with session_factory() as session, session.begin():
        await _insert_form(session, 1)
    attempts = 0

    async def stale_version() -> int:
        # A publisher that always reads the number another publish has just taken.
        nonlocal attempts
        attempts += 1
        return 1

    async with session_factory() as session, session.begin():
        with pytest.raises(PublishContention):
            await insert_next_version(
                session=session,
                next_version=stale_version,
                insert=lambda version: _insert_form(session, version),
            )
    assert attempts == PUBLISH_ATTEMPTS
    async with session_factory() as session:
        assert [r.version for r in await store.list_forms(session=session)] == [1]
