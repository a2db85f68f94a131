"""Recurrence watches: their steps on the closed ticket's rows and timeline, and the lookup
of a watched ticket by fingerprint."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.recurrence import RecordRecurrenceInput, RecurrenceRef, recurrence_event
from store.models import RecurrenceWatchRow, TicketRow
from store.tickets import append_closed_event

WATCHING = "watching"
WATCH_ACTOR = "system"


class UnknownTicket(LookupError):
    """The watched ticket has no row (the app database was reset)."""


async def record_step(*, session: AsyncSession, record: RecordRecurrenceInput) -> int:
    """Write one watch step (its timeline event and the watch row) once; returns its seq.

    A step already written (an activity retried after its transaction committed) is found by
    the seq its row keeps and written no second time.
    """
    if await session.get(TicketRow, record.ticket_key) is None:
        raise UnknownTicket(record.ticket_key)
    watch = await session.get(RecurrenceWatchRow, record.ticket_key)
    if record.step == "started" and watch is not None:
        return watch.started_seq
    if record.step != "started" and watch is not None and watch.outcome_seq is not None:
        return watch.outcome_seq
    type_, data = recurrence_event(record)
    seq = await append_closed_event(
        session=session,
        key=record.ticket_key,
        type_=type_,
        at=record.at,
        actor=WATCH_ACTOR,
        data=data,
    )
    if watch is None:
        watch = RecurrenceWatchRow(
            ticket_key=record.ticket_key,
            fingerprint=record.fingerprint,
            closed_at=record.closed_at,
            ends_at=record.ends_at,
            status=WATCHING,
            started_seq=seq,
        )
        session.add(watch)
    if record.step != "started":
        watch.status = record.step
        watch.recurred_by = record.by
        watch.decided_at = record.at
        watch.outcome_seq = seq
    await session.flush()
    return seq


async def watched_ticket(
    *, session: AsyncSession, fingerprint: str, now: datetime
) -> RecurrenceRef | None:
    """The most recently closed ticket with this fingerprint whose watch runs at `now`
    (closed before it, its 30 days not over, no recurrence yet); None if there is none."""
    row = (
        await session.execute(
            select(RecurrenceWatchRow.ticket_key, RecurrenceWatchRow.closed_at)
            .where(
                RecurrenceWatchRow.fingerprint == fingerprint,
                RecurrenceWatchRow.status == WATCHING,
                RecurrenceWatchRow.ends_at > now,
                RecurrenceWatchRow.closed_at <= now,
            )
            .order_by(RecurrenceWatchRow.closed_at.desc(), RecurrenceWatchRow.ticket_key)
            .limit(1)
        )
    ).first()
    return None if row is None else RecurrenceRef(key=row[0], closed_at=row[1])
