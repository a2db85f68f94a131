"""Recurrence watches: their steps on the closed ticket's rows and timeline, the first
recurrence within a window, the sweep of ended windows, and the lookup by fingerprint."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from domain.recurrence import (
    RecordRecurrenceInput,
    RecurrenceRef,
    eradicated_record,
    recurrence_event,
    recurs_within,
)
from store.models import RecurrenceWatchRow, TicketEventRow, TicketRow
from store.tickets import append_closed_event

WATCHING = "watching"
WATCH_ACTOR = "system"


class UnknownTicket(LookupError):
    """The watched ticket has no row (the app database was reset)."""


async def record_step(*, session: AsyncSession, record: RecordRecurrenceInput) -> int:
    """Write one watch step (its timeline event and the watch row) once; returns its seq.

    A step already written (an activity or projection retried after its transaction
    committed) is found by the seq its row keeps and written no second time; of two outcomes
    the first written stands (the other returns its seq).
    """
    if await session.get(TicketRow, record.ticket_key) is None:
        raise UnknownTicket(record.ticket_key)
    # Fresh from the database: an outcome may have been written by a statement in this session.
    watch = await session.get(RecurrenceWatchRow, record.ticket_key, populate_existing=True)
    if watch is not None and record.step == "started":
        if watch.status == WATCHING and watch.closed_at != record.closed_at:
            await _restamp_start(session, watch, record)
        return watch.started_seq
    if watch is not None and watch.outcome_seq is not None:
        return watch.outcome_seq
    if watch is None:
        seq = await _append(session, record)
        session.add(
            RecurrenceWatchRow(
                ticket_key=record.ticket_key,
                fingerprint=record.fingerprint,
                closed_at=record.closed_at,
                ends_at=record.ends_at,
                status=WATCHING,
                started_seq=seq,
            )
        )
        await session.flush()
        if record.step == "started":
            return seq
    decided = await _decide(session, record)
    if decided is not None:
        return decided
    # Another writer decided the watch between the read and the update: its outcome stands.
    outcome = await session.scalar(
        select(RecurrenceWatchRow.outcome_seq).where(
            RecurrenceWatchRow.ticket_key == record.ticket_key
        )
    )
    return outcome or 0


async def record_recurrence(
    *, session: AsyncSession, closed_key: str, by: str, filed_at: datetime
) -> int | None:
    """Record on a closed ticket that `by`, filed at `filed_at`, recurs it; its event's seq.

    Only the first recurrence filed within the window counts: the watch row changes from
    watching to recurred in one conditional UPDATE, so of two concurrent recurrences one
    wins; one filed after the window's end counts not, even before the sweep came by.
    None when this one does not count; the same seq again when `by` already won (a retried
    projection).
    """
    watch = (
        await session.execute(
            select(
                RecurrenceWatchRow.status,
                RecurrenceWatchRow.recurred_by,
                RecurrenceWatchRow.outcome_seq,
                RecurrenceWatchRow.closed_at,
                RecurrenceWatchRow.ends_at,
            ).where(RecurrenceWatchRow.ticket_key == closed_key)
        )
    ).first()
    if watch is None:
        return None
    status, recurred_by, outcome_seq, closed_at, ends_at = watch
    if status == "recurred" and recurred_by == by:
        return outcome_seq
    if not recurs_within(closed_at, ends_at, filed_at):
        return None
    record = RecordRecurrenceInput(
        ticket_key=closed_key,
        step="recurred",
        at=filed_at,
        closed_at=closed_at,
        ends_at=ends_at,
        by=by,
    )
    return await _decide(session, record)


async def end_windows(*, session: AsyncSession, until: datetime, limit: int) -> tuple[int, int]:
    """Record `eradicated` on at most `limit` watches whose window ended by `until` without
    a recurrence, each stamped with its window's end; how many it found, and ended.

    Oldest windows first, so a backlog drains in order. A watch decided meanwhile by another
    writer (a recurrence, an older watch workflow, an overlapping sweep) is left as it is.
    """
    rows = (
        await session.execute(
            select(
                RecurrenceWatchRow.ticket_key,
                RecurrenceWatchRow.closed_at,
                RecurrenceWatchRow.ends_at,
            )
            .where(RecurrenceWatchRow.status == WATCHING, RecurrenceWatchRow.ends_at <= until)
            .order_by(RecurrenceWatchRow.ends_at, RecurrenceWatchRow.ticket_key)
            .limit(limit)
        )
    ).all()
    ended = 0
    for key, closed_at, ends_at in rows:
        if await _decide(session, eradicated_record(key, closed_at, ends_at)) is not None:
            ended += 1
    return len(rows), ended


async def _decide(session: AsyncSession, record: RecordRecurrenceInput) -> int | None:
    """Move a watching watch to the record's outcome and append its event; None if the watch
    was not watching any more, so nothing is written."""
    won = await session.scalar(
        update(RecurrenceWatchRow)
        .where(
            RecurrenceWatchRow.ticket_key == record.ticket_key,
            RecurrenceWatchRow.status == WATCHING,
        )
        .values(status=record.step, recurred_by=record.by, decided_at=record.at)
        .returning(RecurrenceWatchRow.ticket_key)
        .execution_options(synchronize_session=False)
    )
    if won is None:
        return None
    seq = await _append(session, record)
    await session.execute(
        update(RecurrenceWatchRow)
        .where(RecurrenceWatchRow.ticket_key == record.ticket_key)
        .values(outcome_seq=seq)
        .execution_options(synchronize_session=False)
    )
    return seq


async def _restamp_start(
    session: AsyncSession, watch: RecurrenceWatchRow, record: RecordRecurrenceInput
) -> None:
    """Give a running watch the close of a rerun workflow task: the history keeps the rerun's
    close, whose projection overwrote the `closed` event with its time, so the window and the
    start's event follow it."""
    watch.closed_at = record.closed_at
    watch.ends_at = record.ends_at
    _, data = recurrence_event(record)
    await session.execute(
        update(TicketEventRow)
        .where(
            TicketEventRow.ticket_key == record.ticket_key,
            TicketEventRow.seq == watch.started_seq,
        )
        .values(at=record.at, data=data)
        .execution_options(synchronize_session=False)
    )
    await session.flush()


async def _append(session: AsyncSession, record: RecordRecurrenceInput) -> int:
    type_, data = recurrence_event(record)
    return await append_closed_event(
        session=session,
        key=record.ticket_key,
        type_=type_,
        at=record.at,
        actor=WATCH_ACTOR,
        data=data,
    )


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
