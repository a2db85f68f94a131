"""Eradication, reopen rate and MTTR per category and department, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.recurrence import RecordRecurrenceInput, RecurrenceRef
from domain.ticket import TicketStatus
from store.kpis import KpiFilter, quality_kpis
from store.projection import apply_projection
from store.recurrence import record_step, watched_ticket
from tests.store.snapshots import T0, event, snapshot

Sessions = async_sessionmaker[AsyncSession]
DAY = timedelta(days=1)
NOW = T0 + 100 * DAY


async def ticket(
    sessions: Sessions,
    key: str,
    *,
    category: str | None,
    department: str = "it-ops",
    resolved_after: timedelta | None = None,
    reopened: bool = False,
    closed_at: Any = None,
    definition: str = "it-incident",
) -> None:
    """A ticket with the values the KPIs read, its resolved/reopened events among its events."""
    events = [event(1, "created")]
    if resolved_after is not None:
        events.append(event(2, "resolved"))
    if reopened:
        events += [event(3, "reopened"), event(4, "resolved")]
    status = TicketStatus.CLOSED if closed_at else TicketStatus.RESOLVED
    async with sessions() as session, session.begin():
        await apply_projection(
            session=session,
            ticket=snapshot(
                key,
                last_seq=len(events),
                category=category,
                department=department,
                definition_key=definition,
                status=status if resolved_after is not None else TicketStatus.OPEN,
                resolved_at=T0 + resolved_after if resolved_after is not None else None,
                closed_at=closed_at,
            ),
            events=events,
        )


async def watch(
    sessions: Sessions, key: str, closed_at: Any, *, recurred_by: str | None = None
) -> None:
    """A watch started at the close, recurred or (when its days are over) eradicated."""
    base: dict[str, Any] = {
        "ticket_key": key,
        "closed_at": closed_at,
        "ends_at": closed_at + 30 * DAY,
        "fingerprint": f"fp-{key}",
    }
    async with sessions() as session, session.begin():
        await record_step(
            session=session, record=RecordRecurrenceInput(step="started", at=closed_at, **base)
        )
        if recurred_by is not None:
            recurred = RecordRecurrenceInput(
                step="recurred", at=closed_at + 12 * DAY, by=recurred_by, **base
            )
            await record_step(session=session, record=recurred)
        elif closed_at + 30 * DAY <= NOW:
            over = RecordRecurrenceInput(step="eradicated", at=closed_at + 30 * DAY, **base)
            await record_step(session=session, record=over)


async def test_quality_per_category_and_department(session_factory: Sessions) -> None:
    s = session_factory
    closed = T0 + 10 * DAY
    # network: 3 closed and watched (one recurred), resolved after 1, 2 and 3 hours, one reopened
    await ticket(s, "N-1", category="network", resolved_after=timedelta(hours=1), closed_at=closed)
    await ticket(
        s,
        "N-2",
        category="network",
        resolved_after=timedelta(hours=2),
        closed_at=closed,
        reopened=True,
    )
    await ticket(s, "N-3", category="network", resolved_after=timedelta(hours=3), closed_at=closed)
    await watch(s, "N-1", closed)
    await watch(s, "N-2", closed, recurred_by="N-4")
    await watch(s, "N-3", closed)
    # an open one in network, recurring N-2
    await ticket(s, "N-4", category="network")
    # no category yet: its definition; closed 80 days after T0, its watch is not over at NOW
    late = T0 + 80 * DAY
    await ticket(
        s,
        "P-1",
        category=None,
        definition="printing",
        resolved_after=timedelta(hours=4),
        closed_at=late,
        department="facilities",
    )
    await watch(s, "P-1", late)

    async with s() as session:
        report = await quality_kpis(session=session, filters=KpiFilter(), now=NOW)
    network = {
        "category": "network",
        "tickets": 4,
        "resolved": 3,
        "mttr_seconds_avg": 7200.0,
        "reopened": 1,
        "reopen_rate": round(1 / 3, 4),
        "watch_over": 3,
        "eradicated": 2,
        "recurred": 1,
        "eradication_rate": round(2 / 3, 4),
    }
    printing = {
        "category": "printing",
        "tickets": 1,
        "resolved": 1,
        "mttr_seconds_avg": 14400.0,
        "reopened": 0,
        "reopen_rate": 0.0,
        "watch_over": 0,
        "eradicated": 0,
        "recurred": 0,
        "eradication_rate": None,
    }
    assert report["by_category"] == [network, printing]
    assert [d["department"] for d in report["by_department"]] == ["facilities", "it-ops"]
    it_ops = report["by_department"][1]
    assert {k: it_ops[k] for k in ("tickets", "eradication_rate", "reopen_rate")} == {
        "tickets": 4,
        "eradication_rate": round(2 / 3, 4),
        "reopen_rate": round(1 / 3, 4),
    }
    assert report["overall"]["tickets"] == 5
    assert report["overall"]["mttr_seconds_avg"] == (3600 + 7200 + 10800 + 14400) / 4
    assert report["overall"]["reopen_rate"] == 0.25

    # At day 111 P-1's 30 days are over too, without a recurrence.
    async with s() as session:
        later = await quality_kpis(session=session, filters=KpiFilter(), now=late + 31 * DAY)
        assert later["by_category"][1]["watch_over"] == 1
        assert later["by_category"][1]["eradication_rate"] == 1.0
        # The existing filters apply: one department, one definition.
        mine = await quality_kpis(
            session=session, filters=KpiFilter(department="facilities"), now=NOW
        )
        assert [c["category"] for c in mine["by_category"]] == ["printing"]
        other = await quality_kpis(
            session=session, filters=KpiFilter(definition_key="it-incident"), now=NOW
        )
        assert [c["category"] for c in other["by_category"]] == ["network"]


async def test_a_watch_step_is_written_once_and_numbers_the_timeline_on(
    session_factory: Sessions,
) -> None:
    closed = T0 + DAY
    await ticket(session_factory, "A-1", category=None, resolved_after=DAY, closed_at=closed)
    base: dict[str, Any] = {
        "ticket_key": "A-1",
        "closed_at": closed,
        "ends_at": closed + 30 * DAY,
        "fingerprint": "f" * 64,
    }
    started = RecordRecurrenceInput(step="started", at=closed, **base)
    recurred = RecordRecurrenceInput(step="recurred", at=closed + 12 * DAY, by="A-2", **base)
    seqs = []
    for record in (started, started, recurred, recurred):
        async with session_factory() as session, session.begin():
            seqs.append(await record_step(session=session, record=record))
    assert seqs == [3, 3, 4, 4]
    async with session_factory() as session:
        # Watching: found by its fingerprint within its days; recurred: no longer.
        assert await watched_ticket(session=session, fingerprint="f" * 64, now=closed) is None
    fresh = RecordRecurrenceInput(**{**base, "ticket_key": "A-3", "step": "started", "at": closed})
    await ticket(session_factory, "A-3", category=None, resolved_after=DAY, closed_at=closed)
    async with session_factory() as session, session.begin():
        await record_step(session=session, record=fresh)
    async with session_factory() as session:
        found = await watched_ticket(session=session, fingerprint="f" * 64, now=closed + DAY)
        assert found == RecurrenceRef(key="A-3", closed_at=closed)
        over = await watched_ticket(session=session, fingerprint="f" * 64, now=closed + 30 * DAY)
        assert over is None
        assert await watched_ticket(session=session, fingerprint="0" * 64, now=closed) is None
