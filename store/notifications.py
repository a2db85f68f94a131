"""Notifications per recipient: recorded by the notify activity, listed by the API."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Table, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import ReturningInsert

from domain.notifications import NotifyInput
from store.models import NotificationRow


@cache
def _insert(dialect: str) -> ReturningInsert[Any]:
    """The insert for one dialect, built once and run with parameters.

    A multi-row VALUES built per call costs more to construct and compile than to run.
    """
    table = NotificationRow.__table__
    assert isinstance(table, Table)
    insert = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    return insert.on_conflict_do_nothing().returning(table.c.recipient)


async def record_notifications(*, session: AsyncSession, batch: NotifyInput, channel: str) -> int:
    """Insert the batch's notifications unless already recorded; returns how many were new."""
    if not batch.notifications:
        return 0
    rows = [
        {
            "ticket_key": batch.ticket_key,
            "seq": batch.seq,
            "recipient": n.recipient,
            "subject": n.subject[:300],
            "body": n.body,
            "channel": channel,
            "status": "recorded",
            "created_at": batch.at,
            "parts": n.parts.model_dump() if n.parts else None,
        }
        for n in batch.notifications
    ]
    inserted = await session.scalars(_insert(session.get_bind().dialect.name), rows)
    return len(inserted.all())


async def list_notifications(
    *,
    session: AsyncSession,
    recipients: list[str] | None,
    ticket_key: str | None = None,
    since: datetime | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[NotificationRow]:
    """Notifications newest first, for some recipients (None: everyone's), after `offset`."""
    query = select(NotificationRow)
    if recipients is not None:
        query = query.where(NotificationRow.recipient.in_(recipients))
    if ticket_key is not None:
        query = query.where(NotificationRow.ticket_key == ticket_key)
    if since is not None:
        query = query.where(NotificationRow.created_at >= since)
    query = query.order_by(
        NotificationRow.created_at.desc(),
        NotificationRow.seq.desc(),
        NotificationRow.ticket_key,
        NotificationRow.recipient,
    )
    return list((await session.scalars(query.offset(offset).limit(limit))).all())


async def next_seq(*, session: AsyncSession, about: str) -> int:
    """The next free seq of notifications about this key (a ticket's, or a subscription's)."""
    last = await session.scalar(
        select(func.max(NotificationRow.seq)).where(NotificationRow.ticket_key == about)
    )
    return int(last or 0) + 1
