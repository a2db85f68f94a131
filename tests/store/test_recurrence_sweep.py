"""Watches without workflows, on SQLite and PostgreSQL: the close's projection records the
start, a new ticket's creation projection the first recurrence, the sweep the ended windows."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from activities.projection import ProjectionActivities
from domain.messages import ProjectionInput
from domain.recurrence import RecurrenceRef, RecurrenceWatchInput
from domain.ticket import TicketStatus
from store.models import RecurrenceWatchRow, TicketEventRow, TicketRow
from store.recurrence import end_windows, record_recurrence
from tests.store.snapshots import T0, event, snapshot

Sessions = async_sessionmaker[AsyncSession]
DAY = timedelta(days=1)
CLOSED = T0 + DAY
ENDS = CLOSED + 30 * DAY


async def close(sessions: Sessions, key: str, closed_at: datetime = CLOSED) -> None:
    """Project a ticket's close with its watch, as the close's projection does (twice: a
    retried activity)."""
    events = [event(1, "created"), event(2, "resolved"), event(3, "closed")]
    projection = ProjectionInput(
        ticket=snapshot(key, last_seq=3, status=TicketStatus.CLOSED, closed_at=closed_at),
        events=events,
        recurrence_watch=RecurrenceWatchInput(
            ticket_key=key, closed_at=closed_at, fingerprint="f" * 64
        ),
    )
    activities = ProjectionActivities(sessions)
    for _ in range(2):
        await activities.project_ticket(projection)


async def file_recurrence(sessions: Sessions, key: str, of: str, filed_at: datetime) -> None:
    """Project a new ticket's creation that recurs `of` (twice: a retried activity)."""
    projection = ProjectionInput(
        ticket=snapshot(key, created_at=filed_at),
        events=[event(1, "created"), event(2, "recurrence_of", ticket=of)],
        recurs=RecurrenceRef(key=of, closed_at=CLOSED),
    )
    activities = ProjectionActivities(sessions)
    for _ in range(2):
        await activities.project_ticket(projection)


async def timeline(sessions: Sessions, key: str) -> list[tuple[int, str, datetime]]:
    async with sessions() as session:
        rows = await session.scalars(
            select(TicketEventRow)
            .where(TicketEventRow.ticket_key == key)
            .order_by(TicketEventRow.seq)
        )
        return [(r.seq, r.type, r.at) for r in rows]


async def watches(sessions: Sessions) -> dict[str, RecurrenceWatchRow]:
    async with sessions() as session:
        return {w.ticket_key: w for w in await session.scalars(select(RecurrenceWatchRow))}


async def sweep(sessions: Sessions, until: datetime, limit: int = 100) -> int:
    async with sessions() as session, session.begin():
        found, ended = await end_windows(session=session, until=until, limit=limit)
    assert found == ended  # nothing else decides these watches meanwhile
    return ended


async def test_the_close_projection_records_the_watch_once(session_factory: Sessions) -> None:
    await close(session_factory, "A-1")
    # Past the workflow's last seq, in the close's own transaction; once despite the retry.
    events = await timeline(session_factory, "A-1")
    assert [(seq, type_) for seq, type_, _ in events] == [
        (1, "created"),
        (2, "resolved"),
        (3, "closed"),
        (4, "recurrence_watch_started"),
    ]
    assert events[-1][2] == CLOSED
    watch = (await watches(session_factory))["A-1"]
    assert (watch.status, watch.started_seq, watch.fingerprint) == ("watching", 4, "f" * 64)
    assert watch.ends_at == ENDS
    async with session_factory() as session:
        row = await session.get_one(TicketRow, "A-1")
    assert row.last_seq == 4  # the retried projection's older snapshot did not win


async def test_a_rerun_close_moves_the_running_window_with_it(session_factory: Sessions) -> None:
    # A workflow task run again after its worker died projects the close again with the
    # rerun's time; the history keeps that one, so the watch follows it.
    await close(session_factory, "A-1")
    rerun = CLOSED + timedelta(seconds=5)
    await close(session_factory, "A-1", closed_at=rerun)
    watch = (await watches(session_factory))["A-1"]
    assert (watch.closed_at, watch.ends_at, watch.started_seq) == (rerun, rerun + 30 * DAY, 4)
    async with session_factory() as session:
        started = await session.get_one(TicketEventRow, ("A-1", 4))
    assert (started.type, started.at) == ("recurrence_watch_started", rerun)
    assert started.data == {"until": (rerun + 30 * DAY).isoformat()}


async def test_the_sweep_ends_only_windows_over_stamped_at_their_end_and_reruns_idempotently(
    session_factory: Sessions,
) -> None:
    await close(session_factory, "OVER-1")
    await close(session_factory, "OVER-2", closed_at=CLOSED + timedelta(hours=1))
    await close(session_factory, "RECURRED")
    await close(session_factory, "OPEN", closed_at=CLOSED + 5 * DAY)
    await file_recurrence(session_factory, "NEW-1", "RECURRED", CLOSED + 12 * DAY)
    until = ENDS + timedelta(hours=2)

    # Batches of one: the oldest window first, then the next; then nothing is left.
    assert [await sweep(session_factory, until, limit=1) for _ in range(3)] == [1, 1, 0]
    assert await sweep(session_factory, until) == 0  # a rerun writes nothing

    found = await watches(session_factory)
    assert {k: w.status for k, w in found.items()} == {
        "OVER-1": "eradicated",
        "OVER-2": "eradicated",
        "RECURRED": "recurred",
        "OPEN": "watching",
    }
    for key in ("OVER-1", "OVER-2"):
        events = await timeline(session_factory, key)
        assert [(seq, type_) for seq, type_, _ in events][-2:] == [
            (4, "recurrence_watch_started"),
            (5, "eradicated"),
        ]
        # The step's time is the window's end, not the sweep's.
        assert events[-1][2] == found[key].ends_at
        assert found[key].decided_at == found[key].ends_at
        assert found[key].outcome_seq == 5
    assert [t for _, t, _ in await timeline(session_factory, "RECURRED")][-1] == "recurred"
    assert [t for _, t, _ in await timeline(session_factory, "OPEN")][-1] == (
        "recurrence_watch_started"
    )
    # Its window over too, the open one ends at the next run.
    assert await sweep(session_factory, CLOSED + 40 * DAY) == 1


async def test_the_first_recurrence_within_the_window_wins(session_factory: Sessions) -> None:
    await close(session_factory, "A-1")
    await file_recurrence(session_factory, "A-2", "A-1", CLOSED + 12 * DAY)
    await file_recurrence(session_factory, "A-3", "A-1", CLOSED + 13 * DAY)
    watch = (await watches(session_factory))["A-1"]
    assert (watch.status, watch.recurred_by, watch.outcome_seq) == ("recurred", "A-2", 5)
    assert watch.decided_at == CLOSED + 12 * DAY
    events = await timeline(session_factory, "A-1")
    assert [(seq, type_) for seq, type_, _ in events][-2:] == [
        (4, "recurrence_watch_started"),
        (5, "recurred"),
    ]
    async with session_factory() as session:
        recurred = await session.get_one(TicketEventRow, ("A-1", 5))
        # The loser says what it recurs in its own timeline; the closed ticket's outcome stands.
        assert recurred.data["by"] == "A-2"
        again = await record_recurrence(
            session=session, closed_key="A-1", by="A-2", filed_at=CLOSED + 12 * DAY
        )
        assert again == 5  # a retried creation projection finds its own recurrence
        assert (
            await record_recurrence(
                session=session, closed_key="A-1", by="A-3", filed_at=CLOSED + 13 * DAY
            )
            is None
        )
    assert [t for _, t, _ in await timeline(session_factory, "A-3")] == [
        "created",
        "recurrence_of",
    ]


async def test_a_recurrence_after_the_window_counts_not_even_before_the_sweep(
    session_factory: Sessions,
) -> None:
    await close(session_factory, "A-1")
    # Filed a minute after the window's end: the watch still says watching (the sweep has not
    # come by), but this is no recurrence; the sweep then ends the window as eradicated.
    await file_recurrence(session_factory, "A-2", "A-1", ENDS + timedelta(minutes=1))
    assert (await watches(session_factory))["A-1"].status == "watching"
    assert [t for _, t, _ in await timeline(session_factory, "A-1")][-1] == (
        "recurrence_watch_started"
    )
    assert await sweep(session_factory, ENDS + timedelta(hours=1)) == 1
    watch = (await watches(session_factory))["A-1"]
    assert (watch.status, watch.recurred_by) == ("eradicated", None)
    # A recurrence of an unknown or unwatched ticket records nothing.
    async with session_factory() as session:
        assert (
            await record_recurrence(session=session, closed_key="NONE", by="A-2", filed_at=ENDS)
            is None
        )
