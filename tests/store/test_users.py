"""Users: only a token's SHA-256 is stored, and a token finds its user."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from store.access import policy_version
from store.models import UserRow
from store.users import (
    NoSuchUser,
    UserExists,
    add_user,
    hash_token,
    rotate_token,
    update_user,
    user_by_token,
)
from tests.store.snapshots import T0

Sessions = async_sessionmaker[AsyncSession]


async def _add(sessions: Sessions, name: str, department: str = "it-ops") -> str:
    async with sessions() as session, session.begin():
        _, token = await add_user(
            session=session, name=name, department=department, role="worker", now=T0
        )
    return token


async def test_only_the_token_hash_is_stored(session_factory: Sessions) -> None:
    token = await _add(session_factory, "bob")
    async with session_factory() as session:
        stored = (await session.execute(select(UserRow.__table__))).one()
    assert token not in [str(v) for v in stored]
    assert stored.token_hash == hashlib.sha256(token.encode()).hexdigest() == hash_token(token)


async def test_a_token_finds_its_user(session_factory: Sessions) -> None:
    bob = await _add(session_factory, "bob")
    carol = await _add(session_factory, "carol", department="field")
    async with session_factory() as session:
        caller = await user_by_token(session=session, token=bob)
        assert caller is not None
        found, version = caller
        # The policy version rides along with the user.
        assert version == await policy_version(session=session)
        assert (found.name, found.department, found.role, found.created_at) == (
            "bob",
            "it-ops",
            "worker",
            T0,
        )
        caller = await user_by_token(session=session, token=carol)
        assert caller is not None
        assert caller[0].name == "carol"


async def test_unknown_or_hash_as_token_finds_nobody(session_factory: Sessions) -> None:
    token = await _add(session_factory, "bob")
    async with session_factory() as session:
        assert await user_by_token(session=session, token=token + "x") is None
        assert await user_by_token(session=session, token=hash_token(token)) is None
        assert await user_by_token(session=session, token="") is None


async def test_adding_again_is_refused_and_rotating_replaces_the_token(
    session_factory: Sessions,
) -> None:
    old = await _add(session_factory, "bob")
    with pytest.raises(UserExists):
        await _add(session_factory, "bob", department="field")
    async with session_factory() as session, session.begin():
        new = await rotate_token(session=session, name="bob")
        moved = await update_user(session=session, name="bob", department="field", role="lead")
        assert (moved.department, moved.role) == ("field", "lead")
    assert new != old
    async with session_factory() as session:
        assert await user_by_token(session=session, token=old) is None
        caller = await user_by_token(session=session, token=new)
        assert caller is not None
        found, _version = caller
        assert (found.name, found.department, found.role) == ("bob", "field", "lead")
        assert len((await session.scalars(select(UserRow))).all()) == 1
    async with session_factory() as session:
        with pytest.raises(NoSuchUser):
            await rotate_token(session=session, name="nobody")
        with pytest.raises(NoSuchUser):
            await update_user(session=session, name="nobody", role="agent")
