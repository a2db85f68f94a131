"""Readable ticket keys (IT-000042) and create-request idempotency records."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import IdempotencyRow, KeySequenceRow


async def allocate_ticket_key(*, session: AsyncSession, prefix: str) -> str:
    """Hand out the next key for a prefix; the row update serialises concurrent callers."""
    result = await session.execute(
        update(KeySequenceRow)
        .where(KeySequenceRow.prefix == prefix)
        .values(last_value=KeySequenceRow.last_value + 1)
        .returning(KeySequenceRow.last_value)
    )
    value = result.scalar_one_or_none()
    if value is None:
        try:
            async with session.begin_nested():
                session.add(KeySequenceRow(prefix=prefix, last_value=1))
            value = 1
        except IntegrityError:
            return await allocate_ticket_key(session=session, prefix=prefix)
    return f"{prefix}-{value:06d}"


async def reserve_ticket_key(
    *,
    session: AsyncSession,
    prefix: str,
    user: str,
    idempotency_key: str | None,
    request_hash: str,
    now: datetime,
) -> str | IdempotencyRow:
    """Commit the next key (and the Idempotency-Key pointing at it).

    Returns the key, or the earlier record when a concurrent request with the same
    Idempotency-Key committed first.
    """
    key = await allocate_ticket_key(session=session, prefix=prefix)
    if idempotency_key:
        try:
            await record_idempotent_create(
                session=session,
                user=user,
                key=idempotency_key,
                request_hash=request_hash,
                ticket_key=key,
                now=now,
            )
        except IntegrityError:
            await session.rollback()
            earlier = await find_idempotent_create(session=session, user=user, key=idempotency_key)
            assert earlier is not None  # the conflict was with this very row
            return earlier
    await session.commit()
    return key


async def release_ticket_key(*, session: AsyncSession, prefix: str, key: str) -> None:
    """Give back the key just allocated, unless a later one was handed out meanwhile."""
    value = int(key.rsplit("-", 1)[1])
    if value == 1:
        # The prefix's first key: its counter row goes too, as if never allocated.
        await session.execute(
            delete(KeySequenceRow).where(
                KeySequenceRow.prefix == prefix, KeySequenceRow.last_value == 1
            )
        )
        return
    await session.execute(
        update(KeySequenceRow)
        .where(KeySequenceRow.prefix == prefix, KeySequenceRow.last_value == value)
        .values(last_value=value - 1)
    )


async def find_idempotent_create(
    *, session: AsyncSession, user: str, key: str
) -> IdempotencyRow | None:
    """A create already made with this Idempotency-Key by this caller."""
    return await session.scalar(
        select(IdempotencyRow).where(IdempotencyRow.user_name == user, IdempotencyRow.key == key)
    )


async def record_idempotent_create(
    *, session: AsyncSession, user: str, key: str, request_hash: str, ticket_key: str, now: datetime
) -> None:
    """Remember which ticket a create with this Idempotency-Key made."""
    session.add(
        IdempotencyRow(
            user_name=user,
            key=key,
            request_hash=request_hash,
            ticket_key=ticket_key,
            created_at=now,
        )
    )
    await session.flush()


async def forget_idempotent_create(*, session: AsyncSession, user: str, key: str) -> None:
    """Drop an Idempotency-Key record whose ticket could not take the key it was given."""
    await session.execute(
        delete(IdempotencyRow).where(IdempotencyRow.user_name == user, IdempotencyRow.key == key)
    )
