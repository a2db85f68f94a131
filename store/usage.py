"""Usage metering: exact counts per day, subject and department, from the durable records.

Nothing is sampled and no counter is kept apart: each figure is an aggregation over rows the
system writes anyway, in the same transaction as the thing counted (ticket events with the
projection, snapshots with their ticket or request, delivery attempts with the delivery).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, case, func, literal_column, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.events_out import DELIVERED
from store.models import (
    DeliveryAttemptRow,
    DeviceSnapshotRow,
    SubscriptionRow,
    TicketEventRow,
    TicketRow,
)

CREATED = "created"
# A literal, not a parameter, for the GROUP BY to match on PostgreSQL (see _day).
_NONE: ColumnElement[str] = literal_column("''")
# The events an automated action leaves: a service stage's registered action, run or failed,
# and a care action after close.
AUTOMATED_EVENTS = ("service_completed", "service_failed", "care_action")
# Each count's query: day, subject, department, count.
_Counts = Select[str, str, str, int]
METRICS = ("tickets_created", "transitions", "automated_actions", "device_reads", "deliveries")


@dataclass
class UsageRow:
    """One subject's counts in one department on one UTC day (YYYY-MM-DD)."""

    day: str
    subject: str
    department: str
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(METRICS, 0))


def _day(session: AsyncSession, column: Any) -> ColumnElement[str]:
    """The UTC day of a time, YYYY-MM-DD, in the dialect's own date functions."""
    # Literals, not parameters: PostgreSQL matches GROUP BY to the selected expression by its
    # text, and two bound parameters never match.
    if session.get_bind().dialect.name == "postgresql":
        utc = func.timezone(literal_column("'UTC'"), column)
        return func.to_char(utc, literal_column("'YYYY-MM-DD'"))
    return func.strftime(literal_column("'%Y-%m-%d'"), column)


def _counted(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.sum(case((condition, 1), else_=0))


def _ticket_events(
    session: AsyncSession, start: datetime, end: datetime, subject: str | None
) -> Select[str, str, str, int, int, int]:
    """Tickets created, transitions and automated actions: one scan of the events for all three."""
    day = _day(session, TicketEventRow.at)
    query = (
        select(
            day,
            TicketRow.requester,
            TicketRow.department,
            _counted(TicketEventRow.type == CREATED),
            _counted(TicketEventRow.type != CREATED),
            _counted(TicketEventRow.type.in_(AUTOMATED_EVENTS)),
        )
        .select_from(TicketEventRow)
        .join(TicketRow, TicketRow.key == TicketEventRow.ticket_key)
        .where(TicketEventRow.at >= start, TicketEventRow.at < end)
        .group_by(day, TicketRow.requester, TicketRow.department)
    )
    if subject is not None:
        query = query.where(TicketRow.requester == subject)
    return query


def _device_reads(
    session: AsyncSession, start: datetime, end: datetime, subject: str | None
) -> _Counts:
    day = _day(session, DeviceSnapshotRow.taken_at)
    who = func.coalesce(TicketRow.requester, DeviceSnapshotRow.taken_by, _NONE)
    where = func.coalesce(TicketRow.department, DeviceSnapshotRow.department, _NONE)
    query = (
        select(day, who, where, func.count())
        .select_from(DeviceSnapshotRow)
        .outerjoin(TicketRow, TicketRow.key == DeviceSnapshotRow.ticket_key)
        .where(DeviceSnapshotRow.taken_at >= start, DeviceSnapshotRow.taken_at < end)
        .group_by(day, who, where)
    )
    if subject is not None:
        query = query.where(who == subject)
    return query


def _deliveries(
    session: AsyncSession, start: datetime, end: datetime, subject: str | None
) -> _Counts:
    day = _day(session, DeliveryAttemptRow.at)
    where = func.coalesce(TicketRow.department, _NONE)
    query = (
        select(day, SubscriptionRow.owner, where, func.count())
        .select_from(DeliveryAttemptRow)
        .join(SubscriptionRow, SubscriptionRow.id == DeliveryAttemptRow.subscription_id)
        .outerjoin(TicketRow, TicketRow.key == DeliveryAttemptRow.ticket_key)
        .where(
            DeliveryAttemptRow.outcome == DELIVERED,
            DeliveryAttemptRow.at >= start,
            DeliveryAttemptRow.at < end,
        )
        .group_by(day, SubscriptionRow.owner, where)
    )
    if subject is not None:
        query = query.where(SubscriptionRow.owner == subject)
    return query


async def usage(
    *, session: AsyncSession, start: datetime, end: datetime, subject: str | None = None
) -> list[UsageRow]:
    """Counts per UTC day, subject and department for times in [start, end); of one subject
    when `subject` is given. Ordered by day, subject, department; rows of all zeros left out.

    A ticket's events, automated actions and snapshots are the ticket creator's (the subject
    whose flow it is) in the ticket's department; a delivery is the subscription owner's, in
    the department of the ticket whose event it carried.
    """
    rows: dict[tuple[str, str, str], UsageRow] = {}

    def row_of(day: str, who: str, department: str) -> UsageRow:
        key = (str(day), str(who), str(department))
        return rows.setdefault(key, UsageRow(day=key[0], subject=key[1], department=key[2]))

    events = await session.execute(_ticket_events(session, start, end, subject))
    for day, who, department, created, transitions, automated in events:
        counts = row_of(day, who, department).counts
        counts["tickets_created"] = int(created)
        counts["transitions"] = int(transitions)
        counts["automated_actions"] = int(automated)
    others: Sequence[tuple[str, _Counts]] = (
        ("device_reads", _device_reads(session, start, end, subject)),
        ("deliveries", _deliveries(session, start, end, subject)),
    )
    for metric, query in others:
        for day, who, department, count in await session.execute(query):
            row_of(day, who, department).counts[metric] = int(count)
    return [rows[key] for key in sorted(rows)]
