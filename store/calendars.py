"""Published business calendars: immutable versions, numbered per key."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.calendars import BusinessCalendar
from store.models import CalendarRow


async def next_calendar_version(*, session: AsyncSession, key: str) -> int:
    """The number the next published version of this calendar gets."""
    current = await session.scalar(
        select(func.max(CalendarRow.version)).where(CalendarRow.key == key)
    )
    return (current or 0) + 1


async def insert_calendar(
    *, session: AsyncSession, calendar: BusinessCalendar, published_by: str, now: datetime
) -> CalendarRow:
    """Store a checked calendar whose version is already assigned."""
    row = CalendarRow(
        key=calendar.key,
        version=calendar.version,
        title=calendar.title,
        timezone=calendar.timezone,
        document=calendar.model_dump(mode="json"),
        published_at=now,
        published_by=published_by,
    )
    session.add(row)
    await session.flush()
    return row


async def get_calendar(
    *, session: AsyncSession, key: str, version: int | None = None
) -> CalendarRow | None:
    """A calendar version, or the latest one when no version is given."""
    query = select(CalendarRow).where(CalendarRow.key == key)
    if version is not None:
        query = query.where(CalendarRow.version == version)
    return await session.scalar(query.order_by(CalendarRow.version.desc()).limit(1))


async def list_calendars(*, session: AsyncSession, key: str | None = None) -> list[CalendarRow]:
    """Every version of every calendar (or of one key), newest version first per key."""
    query = select(CalendarRow)
    if key is not None:
        query = query.where(CalendarRow.key == key)
    rows = await session.scalars(query.order_by(CalendarRow.key, CalendarRow.version.desc()))
    return list(rows.all())
