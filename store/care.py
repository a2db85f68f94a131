"""Published care strategies: immutable versions, numbered per key."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.care import CareStrategy
from store.models import CareStrategyRow


async def next_strategy_version(*, session: AsyncSession, key: str) -> int:
    """The number the next published version of this strategy gets."""
    current = await session.scalar(
        select(func.max(CareStrategyRow.version)).where(CareStrategyRow.key == key)
    )
    return (current or 0) + 1


async def insert_strategy(
    *, session: AsyncSession, strategy: CareStrategy, published_by: str, now: datetime
) -> CareStrategyRow:
    """Store a checked strategy whose version is already assigned."""
    row = CareStrategyRow(
        key=strategy.key,
        version=strategy.version,
        title=strategy.title,
        document=strategy.model_dump(mode="json"),
        published_at=now,
        published_by=published_by,
    )
    session.add(row)
    await session.flush()
    return row


async def get_strategy(
    *, session: AsyncSession, key: str, version: int | None = None
) -> CareStrategyRow | None:
    """A strategy version, or the latest one when no version is given."""
    query = select(CareStrategyRow).where(CareStrategyRow.key == key)
    if version is not None:
        query = query.where(CareStrategyRow.version == version)
    return await session.scalar(query.order_by(CareStrategyRow.version.desc()).limit(1))
