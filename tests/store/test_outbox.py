"""The outbox: written in the projection's transaction, once per event, read in order."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.ticket import TicketEvent, TicketSnapshot
from store.outbox import outbox_after, outbox_head
from store.projection import apply_projection
from store.tickets import append_closed_event
from tests.store.snapshots import T0, event, snapshot

Sessions = async_sessionmaker[AsyncSession]


async def _project(sessions: Sessions, ticket: TicketSnapshot, events: list[TicketEvent]) -> None:
    async with sessions() as session, session.begin():
        await apply_projection(session=session, ticket=ticket, events=events)


async def _outbox(sessions: Sessions, after: int = 0) -> list[tuple[str, int, str]]:
    async with sessions() as session:
        items = await outbox_after(session=session, after=after, limit=1000)
    return [(i.ticket_key, i.seq, i.type) for i in items]


async def test_each_new_event_enters_the_outbox_once_in_seq_order(
    session_factory: Sessions,
) -> None:
    events = [event(2, "task_opened"), event(1, "created")]
    await _project(session_factory, snapshot("INC-1", last_seq=2), events)
    # An activity retry writes the same transition again: nothing new enters the outbox.
    await _project(session_factory, snapshot("INC-1", last_seq=2), events)
    await _project(session_factory, snapshot("INC-1", last_seq=3), [event(3, "comment_added")])
    assert await _outbox(session_factory) == [
        ("INC-1", 1, "created"),
        ("INC-1", 2, "task_opened"),
        ("INC-1", 3, "comment_added"),
    ]


async def test_a_reader_resumes_after_the_position_it_reached(session_factory: Sessions) -> None:
    async with session_factory() as session:
        assert await outbox_head(session=session) == 0
    await _project(session_factory, snapshot("A-1", last_seq=1), [event(1, "created")])
    async with session_factory() as session:
        head = await outbox_head(session=session)
    await _project(session_factory, snapshot("B-1", last_seq=1), [event(1, "created")])
    assert await _outbox(session_factory, after=head) == [("B-1", 1, "created")]


async def test_events_appended_after_close_enter_the_outbox_after_the_tickets_own(
    session_factory: Sessions,
) -> None:
    await _project(
        session_factory, snapshot("INC-9", last_seq=2), [event(1, "created"), event(2, "closed")]
    )
    async with session_factory() as session, session.begin():
        seq = await append_closed_event(
            session=session,
            key="INC-9",
            type_="care_action",
            at=T0,
            actor="system:care",
            data={"action": "survey"},
        )
    assert seq == 3
    assert await _outbox(session_factory) == [
        ("INC-9", 1, "created"),
        ("INC-9", 2, "closed"),
        ("INC-9", 3, "care_action"),
    ]
