"""Users and their bearer tokens (only a SHA-256 of each token is stored)."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from policies.subjects import department_name_problem, user_name_problem
from store.access import policy_version_query
from store.models import UserRow


def hash_token(token: str) -> str:
    """SHA-256 of a token; tokens are 256-bit random, so no slow hash is needed."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    """A fresh random bearer token."""
    return "tf_" + secrets.token_urlsafe(32)


class UserExists(ValueError):
    """Adding a user whose name is taken: rotate its token or update it instead."""


class NoSuchUser(LookupError):
    """Changing a user that does not exist."""


class InvalidUser(ValueError):
    """A name or department a user cannot have (reserved, or not a valid policy name)."""


async def add_user(
    *, session: AsyncSession, name: str, department: str, role: str, now: datetime
) -> tuple[UserRow, str]:
    """Create a new user; returns the row and its token (shown once, only its hash stored).

    Refused for a name already taken (UserExists) and for a reserved or unusable name or
    department (InvalidUser): role names, system actors, anything with ':' or '*' or
    starting with '@'.
    """
    problem = user_name_problem(name) or department_name_problem(department)
    if problem is not None:
        raise InvalidUser(problem)
    if await session.get(UserRow, name) is not None:
        raise UserExists(f"user {name!r} exists")
    token = new_token()
    row = UserRow(
        name=name,
        department=department,
        role=role,
        token_hash=hash_token(token),
        created_at=now,
        note="",
    )
    session.add(row)
    await session.flush()
    return row, token


async def rotate_token(*, session: AsyncSession, name: str) -> str:
    """Give an existing user a new token (returned once); the old one stops working."""
    row = await session.get(UserRow, name)
    if row is None:
        raise NoSuchUser(f"no user {name!r}")
    token = new_token()
    row.token_hash = hash_token(token)
    await session.flush()
    return token


async def update_user(
    *, session: AsyncSession, name: str, department: str | None = None, role: str | None = None
) -> UserRow:
    """Change an existing user's department and/or role; the token stays as it is."""
    row = await session.get(UserRow, name)
    if row is None:
        raise NoSuchUser(f"no user {name!r}")
    if department is not None:
        problem = department_name_problem(department)
        if problem is not None:
            raise InvalidUser(problem)
        row.department = department
    if role is not None:
        row.role = role
    await session.flush()
    return row


async def user_by_token(*, session: AsyncSession, token: str) -> tuple[UserRow, int] | None:
    """The user owning this token, if any, and the policy version, in one round trip.

    Every authenticated request needs both: who calls, and whether the policy this process
    decides with is still the current one.
    """
    found = (
        await session.execute(
            select(UserRow, policy_version_query()).where(UserRow.token_hash == hash_token(token))
        )
    ).first()
    if found is None:
        return None
    user, version = found
    return user, int(version or 0)


async def get_user(*, session: AsyncSession, name: str) -> UserRow | None:
    """The user of this name, if any."""
    return await session.get(UserRow, name)


async def get_users(*, session: AsyncSession, names: list[str]) -> list[UserRow]:
    """The users of these names that exist (one query)."""
    if not names:
        return []
    return list((await session.scalars(select(UserRow).where(UserRow.name.in_(names)))).all())
