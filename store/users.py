"""Users and their bearer tokens (only a SHA-256 of each token is stored)."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import UserRow


def hash_token(token: str) -> str:
    """SHA-256 of a token; tokens are 256-bit random, so no slow hash is needed."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    """A fresh random bearer token."""
    return "tf_" + secrets.token_urlsafe(32)


async def add_user(
    *, session: AsyncSession, name: str, department: str, role: str, now: datetime
) -> tuple[UserRow, str]:
    """Create a user (or rotate an existing user's token); returns the row and the token."""
    token = new_token()
    row = await session.get(UserRow, name)
    if row is None:
        row = UserRow(name=name, created_at=now, note="")
        session.add(row)
    row.department, row.role, row.token_hash = department, role, hash_token(token)
    await session.flush()
    return row, token


async def user_by_token(*, session: AsyncSession, token: str) -> UserRow | None:
    """The user owning this token, if any."""
    return await session.scalar(select(UserRow).where(UserRow.token_hash == hash_token(token)))


async def get_user(*, session: AsyncSession, name: str) -> UserRow | None:
    """The user of this name, if any."""
    return await session.get(UserRow, name)
