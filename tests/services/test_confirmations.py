"""An answered change whose confirmation meets an unavailable database still answers, and its
events go out once a later confirmation gets through (SQLite, its write lock held)."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from activities.projection import ProjectionActivities
from domain.messages import ProjectionInput
from services.confirmations import confirm_answered
from store.models import OutboxRow
from tests.dbutil import fresh_database, migrated_sessions
from tests.store.snapshots import event, snapshot

Sessions = async_sessionmaker[AsyncSession]


@pytest.fixture
async def sqlite_sessions(tmp_path: Path) -> AsyncIterator[tuple[Sessions, str]]:
    with fresh_database("sqlite", tmp_path, migrated=True) as url:
        async with migrated_sessions(url) as sessions:
            path = make_url(url).database
            assert path is not None
            yield sessions, path


async def outbox(sessions: Sessions) -> list[int]:
    async with sessions() as session:
        return list(await session.scalars(select(OutboxRow.seq).order_by(OutboxRow.position)))


async def test_a_confirmation_the_database_refuses_answers_and_a_later_one_sends(
    sqlite_sessions: tuple[Sessions, str],
) -> None:
    sessions, path = sqlite_sessions
    tentative = ProjectionInput(
        ticket=snapshot("IT-000001", 2),
        events=[event(1, "created"), event(2, "comment_added")],
        tentative=True,
    )
    await ProjectionActivities(sessions).project_ticket(tentative)
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")  # every other writer now waits, then fails
        async with sessions() as session:
            confirmed = await confirm_answered(
                session=session, key="IT-000001", through=2, patience=timedelta(0)
            )
        assert confirmed is False
        holder.execute("ROLLBACK")
    finally:
        holder.close()
    # Nothing went out for the refused confirmation, and nothing is lost: the next one sends.
    assert await outbox(sessions) == []
    async with sessions() as session:
        assert await confirm_answered(session=session, key="IT-000001", through=2) is True
    assert await outbox(sessions) == [1, 2]
