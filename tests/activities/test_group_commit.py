"""Concurrent projection and notification writes share commits; a failure stays its writer's."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event as sql_event
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from activities.notifications import NotificationActivities
from activities.projection import ProjectionActivities
from domain.messages import ProjectionInput
from domain.notifications import Notification, NotifyInput
from store.db import make_async_engine
from store.models import NotificationRow, TicketEventRow, TicketRow
from tests.dbutil import database_params, fresh_database, migrated_sessions
from tests.store.snapshots import T0, event, snapshot

Sessions = async_sessionmaker[AsyncSession]


@pytest.fixture(params=database_params())
async def sessions(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Sessions]:
    """Sessions on a freshly migrated SQLite or PostgreSQL database."""
    with fresh_database(request.param, tmp_path) as url:
        async with migrated_sessions(url) as factory:
            yield factory


def _count_commits(sessions: Sessions) -> list[int]:
    commits = [0]

    def counted(_connection: Any) -> None:
        commits[0] += 1

    sql_event.listen(sessions.kw["bind"].sync_engine, "commit", counted)
    return commits


def _projection(key: str) -> ProjectionInput:
    return ProjectionInput(ticket=snapshot(key, last_seq=1), events=[event(1, "created")])


async def _count(sessions: Sessions, model: Any) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_concurrent_writes_of_many_tickets_share_commits(sessions: Sessions) -> None:
    """Twenty tickets' projections and notifications at once: all written, in fewer commits."""
    projection = ProjectionActivities(sessions)
    notifications = NotificationActivities(projection.group_commit)
    commits = _count_commits(sessions)
    keys = [f"IT-{i:06d}" for i in range(20)]
    results = await asyncio.gather(
        *(projection.project_ticket(_projection(key)) for key in keys),
        *(
            notifications.record_notifications(
                NotifyInput(
                    ticket_key=key,
                    seq=1,
                    at=T0,
                    notifications=[Notification(recipient="group:it-ops", subject="due")],
                )
            )
            for key in keys
        ),
    )
    assert [r.inserted for r in results[:20]] == [1] * 20
    assert [r.recorded for r in results[20:]] == [1] * 20
    assert await _count(sessions, TicketRow) == 20
    assert await _count(sessions, TicketEventRow) == 20
    assert await _count(sessions, NotificationRow) == 20
    # Queued while the first commit ran, the other 39 writes shared the next ones.
    assert commits[0] <= 3


async def test_a_failing_write_fails_only_its_writer(sessions: Sessions) -> None:
    """The turn it shared is written again write by write; the others still commit."""
    projection = ProjectionActivities(sessions)
    group = projection.group_commit

    async def broken(session: AsyncSession) -> int:
        await session.execute(text("SELECT * FROM no_such_table"))
        return 0

    outcomes = await asyncio.gather(
        projection.project_ticket(_projection("IT-000001")),
        group.write(broken),
        projection.project_ticket(_projection("IT-000002")),
        return_exceptions=True,
    )
    assert [getattr(o, "inserted", None) for o in outcomes[::2]] == [1, 1]
    assert isinstance(outcomes[1], Exception)
    assert await _count(sessions, TicketRow) == 2


async def test_a_writer_that_stops_waiting_writes_nothing(sessions: Sessions) -> None:
    """An activity cancelled before its turn (a timeout) leaves no row behind."""
    projection = ProjectionActivities(sessions)
    first = asyncio.ensure_future(projection.project_ticket(_projection("IT-000001")))
    second = asyncio.ensure_future(projection.project_ticket(_projection("IT-000002")))
    await asyncio.sleep(0)  # both queued; the first turn has begun with the first
    second.cancel()
    assert (await first).inserted == 1
    with pytest.raises(asyncio.CancelledError):
        await second
    await asyncio.sleep(0.1)
    async with sessions() as session:
        assert (await session.scalars(select(TicketRow.key))).all() == ["IT-000001"]


def test_sqlite_connections_are_not_pinged_at_checkout(tmp_path: Path) -> None:
    """A SQLite file cannot drop a pooled connection; a ping would cost each checkout a trip."""
    sqlite = make_async_engine(f"sqlite:///{tmp_path / 'x.db'}")
    postgres = make_async_engine("postgresql://u@127.0.0.1:1/x")
    assert sqlite.sync_engine.pool._pre_ping is False
    assert postgres.sync_engine.pool._pre_ping is True
