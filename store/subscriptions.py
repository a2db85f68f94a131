"""Subscriptions and their delivery attempts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from domain.events_out import ACTIVE, DELIVERED, PAUSED
from store.models import DeliveryAttemptRow, SubscriptionRow


async def add_subscription(*, session: AsyncSession, row: SubscriptionRow) -> None:
    """Insert a new subscription."""
    session.add(row)
    await session.flush()


async def get_subscription(
    *, session: AsyncSession, subscription_id: str
) -> SubscriptionRow | None:
    """One subscription by id."""
    return await session.get(SubscriptionRow, subscription_id)


async def list_subscriptions(
    *, session: AsyncSession, owner: str | None = None
) -> list[SubscriptionRow]:
    """Subscriptions, oldest first; of one owner when `owner` is given."""
    query = select(SubscriptionRow).order_by(SubscriptionRow.created_at, SubscriptionRow.id)
    if owner is not None:
        query = query.where(SubscriptionRow.owner == owner)
    return list(await session.scalars(query))


async def set_paused(
    *, session: AsyncSession, subscription_id: str, reason: str, now: datetime
) -> bool:
    """Pause an active subscription; whether it was active."""
    result = await session.execute(
        update(SubscriptionRow)
        .where(SubscriptionRow.id == subscription_id, SubscriptionRow.status == ACTIVE)
        .values(status=PAUSED, paused_at=now, paused_reason=reason)
    )
    return bool(getattr(result, "rowcount", 0))


async def set_active(*, session: AsyncSession, subscription_id: str) -> bool:
    """Resume a paused subscription; whether it was paused."""
    result = await session.execute(
        update(SubscriptionRow)
        .where(SubscriptionRow.id == subscription_id, SubscriptionRow.status == PAUSED)
        .values(status=ACTIVE, paused_at=None, paused_reason=None)
    )
    return bool(getattr(result, "rowcount", 0))


async def record_attempts(*, session: AsyncSession, rows: list[DeliveryAttemptRow]) -> None:
    """Keep delivery attempts."""
    session.add_all(rows)
    await session.flush()


async def delivered_among(
    *, session: AsyncSession, subscription_id: str, event_ids: list[str]
) -> set[str]:
    """Which of these events an attempt already delivered to this subscription."""
    query = select(DeliveryAttemptRow.event_id).where(
        DeliveryAttemptRow.subscription_id == subscription_id,
        DeliveryAttemptRow.event_id.in_(event_ids),
        DeliveryAttemptRow.outcome == DELIVERED,
    )
    return set(await session.scalars(query))


async def attempts_of(
    *, session: AsyncSession, subscription_id: str, limit: int, before: int | None = None
) -> list[DeliveryAttemptRow]:
    """A subscription's attempts, newest first, before attempt id `before` when given."""
    query = (
        select(DeliveryAttemptRow)
        .where(DeliveryAttemptRow.subscription_id == subscription_id)
        .order_by(DeliveryAttemptRow.id.desc())
        .limit(limit)
    )
    if before is not None:
        query = query.where(DeliveryAttemptRow.id < before)
    return list(await session.scalars(query))
