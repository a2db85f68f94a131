"""Ticket key sequences per prefix and create-request idempotency records."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from store.keys import (
    allocate_ticket_key,
    find_idempotent_create,
    record_idempotent_create,
    release_ticket_key,
)
from store.models import KeySequenceRow
from tests.store.snapshots import T0

Sessions = async_sessionmaker[AsyncSession]


async def _allocate(sessions: Sessions, prefix: str) -> str:
    async with sessions() as session, session.begin():
        return await allocate_ticket_key(session=session, prefix=prefix)


async def test_keys_count_up_from_one(session_factory: Sessions) -> None:
    assert [await _allocate(session_factory, "IT") for _ in range(3)] == [
        "IT-000001",
        "IT-000002",
        "IT-000003",
    ]


async def test_keys_count_up_within_one_transaction(session_factory: Sessions) -> None:
    async with session_factory() as session, session.begin():
        keys = [await allocate_ticket_key(session=session, prefix="IT") for _ in range(2)]
    assert keys == ["IT-000001", "IT-000002"]


async def test_each_prefix_has_its_own_sequence(session_factory: Sessions) -> None:
    keys = [await _allocate(session_factory, p) for p in ("IT", "IT", "HR", "IT", "HR", "FAC")]
    assert keys == ["IT-000001", "IT-000002", "HR-000001", "IT-000003", "HR-000002", "FAC-000001"]
    async with session_factory() as session:
        rows = (await session.scalars(select(KeySequenceRow).order_by(KeySequenceRow.prefix))).all()
        assert [(r.prefix, r.last_value) for r in rows] == [("FAC", 1), ("HR", 2), ("IT", 3)]


async def test_a_rolled_back_allocation_is_handed_out_again(session_factory: Sessions) -> None:
    assert await _allocate(session_factory, "IT") == "IT-000001"
    async with session_factory() as session:
        assert await allocate_ticket_key(session=session, prefix="IT") == "IT-000002"
        await session.rollback()
    assert await _allocate(session_factory, "IT") == "IT-000002"


@pytest.mark.parametrize("existing", [0, 5], ids=["first-use", "existing-prefix"])
async def test_concurrent_sessions_get_unique_keys(
    session_factory: Sessions, existing: int
) -> None:
    for _ in range(existing):
        await _allocate(session_factory, "IT")
    keys = await asyncio.gather(*(_allocate(session_factory, "IT") for _ in range(12)))
    assert sorted(keys) == [f"IT-{n:06d}" for n in range(existing + 1, existing + 13)]


async def test_idempotency_record_is_found_per_caller(session_factory: Sessions) -> None:
    async with session_factory() as session, session.begin():
        assert await find_idempotent_create(session=session, user="alice", key="req-1") is None
        await record_idempotent_create(
            session=session,
            user="alice",
            key="req-1",
            request_hash="a" * 64,
            ticket_key="IT-000001",
            now=T0,
        )
    async with session_factory() as session:
        row = await find_idempotent_create(session=session, user="alice", key="req-1")
        assert row is not None
        assert (row.ticket_key, row.request_hash, row.created_at) == ("IT-000001", "a" * 64, T0)
        assert await find_idempotent_create(session=session, user="bob", key="req-1") is None
        assert await find_idempotent_create(session=session, user="alice", key="req-2") is None


async def test_the_same_key_from_another_caller_is_separate(session_factory: Sessions) -> None:
    async with session_factory() as session, session.begin():
        for user, ticket in (("alice", "IT-000001"), ("bob", "IT-000002")):
            await record_idempotent_create(
                session=session,
                user=user,
                key="req-1",
                request_hash="b" * 64,
                ticket_key=ticket,
                now=T0,
            )
    async with session_factory() as session:
        row = await find_idempotent_create(session=session, user="bob", key="req-1")
        assert row is not None
        assert row.ticket_key == "IT-000002"


async def test_recording_a_key_twice_is_refused(session_factory: Sessions) -> None:
    async with session_factory() as session, session.begin():
        await record_idempotent_create(
            session=session,
            user="alice",
            key="req-1",
            request_hash="c" * 64,
            ticket_key="IT-000001",
            now=T0,
        )
    async with session_factory() as session:
        with pytest.raises(IntegrityError):
            await record_idempotent_create(
                session=session,
                user="alice",
                key="req-1",
                request_hash="d" * 64,
                ticket_key="IT-000002",
                now=T0 + timedelta(seconds=1),
            )


async def _release(sessions: Sessions, prefix: str, key: str) -> None:
    async with sessions() as session, session.begin():
        await release_ticket_key(session=session, prefix=prefix, key=key)


async def test_a_released_key_is_handed_out_again(session_factory: Sessions) -> None:
    await _release(session_factory, "IT", await _allocate(session_factory, "IT"))
    async with session_factory() as session:
        assert await session.scalar(select(KeySequenceRow)) is None  # as if never allocated
    first, second = await _allocate(session_factory, "IT"), await _allocate(session_factory, "IT")
    await _release(session_factory, "IT", second)
    assert (first, await _allocate(session_factory, "IT")) == ("IT-000001", "IT-000002")


async def test_a_key_is_not_released_once_a_later_one_is_out(session_factory: Sessions) -> None:
    first, second = await _allocate(session_factory, "IT"), await _allocate(session_factory, "IT")
    await _release(session_factory, "IT", first)
    assert (second, await _allocate(session_factory, "IT")) == ("IT-000002", "IT-000003")
