"""The projection write: idempotent, newest snapshot wins, each event stored once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.participation import GROUP, PERSON, Participant
from domain.ticket import TaskStatus, TicketEvent, TicketSnapshot, TicketStatus
from store.models import OutboxRow, TaskRow, TicketEventRow, TicketRow
from store.participants import handling_facts
from store.projection import _task_values, _ticket_values, apply_projection
from store.tickets import get_ticket, list_events, list_ticket_tasks
from tests.store.snapshots import T0, event, snapshot, task

Sessions = async_sessionmaker[AsyncSession]


async def _project(sessions: Sessions, ticket: TicketSnapshot, events: list[TicketEvent]) -> int:
    async with sessions() as session, session.begin():
        return await apply_projection(session=session, ticket=ticket, events=events)


async def _state(sessions: Sessions, key: str) -> tuple[TicketRow, list[TaskRow], list[int]]:
    async with sessions() as session:
        row = await get_ticket(session=session, key=key)
        assert row is not None
        tasks = await list_ticket_tasks(session=session, key=key)
        seqs = [e.seq for e in await list_events(session=session, key=key)]
        return row, tasks, seqs


def _claimed(key: str, seq: int) -> TicketSnapshot:
    return snapshot(
        key,
        last_seq=seq,
        tasks=[
            task(key, status=TaskStatus.CLAIMED, assignee="bob", claimed_at=T0 + timedelta(hours=1))
        ],
    )


def _resolved(key: str, seq: int) -> TicketSnapshot:
    done = task(
        key,
        status=TaskStatus.DONE,
        assignee="bob",
        completed_by="bob",
        completed_at=T0 + timedelta(hours=2),
        data={"fix": "new toner"},
    )
    return snapshot(
        key,
        last_seq=seq,
        status=TicketStatus.RESOLVED,
        resolved_at=T0 + timedelta(hours=2),
        tasks=[done],
    )


async def test_first_projection_writes_ticket_tasks_and_events(session_factory: Sessions) -> None:
    ticket = snapshot("IT-000001", last_seq=2)
    assert await _project(session_factory, ticket, [event(1, "created"), event(2)]) == 2
    row, tasks, seqs = await _state(session_factory, "IT-000001")
    assert (row.status, row.last_seq, row.requester) == ("open", 2, "alice")
    assert row.intake == {"summary": "printer jammed", "floor": 3}
    assert [(t.id, t.group_name, t.status) for t in tasks] == [
        ("IT-000001:fix:1", "it-ops", "open")
    ]
    assert seqs == [1, 2]


async def test_repeated_call_changes_nothing(session_factory: Sessions) -> None:
    ticket, events = _claimed("IT-000001", 2), [event(1, "created"), event(2, "task_claimed")]
    assert await _project(session_factory, ticket, events) == 2
    before = await _state(session_factory, "IT-000001")
    assert await _project(session_factory, ticket, events) == 0
    row, tasks, seqs = await _state(session_factory, "IT-000001")
    assert (row.last_seq, row.updated_at) == (before[0].last_seq, before[0].updated_at)
    assert seqs == [1, 2]
    assert [(t.id, t.status, t.assignee) for t in tasks] == [("IT-000001:fix:1", "claimed", "bob")]
    async with session_factory() as session:
        assert await session.scalar(select(func.count()).select_from(TicketEventRow)) == 2
        assert await session.scalar(select(func.count()).select_from(TaskRow)) == 1


async def test_newer_snapshot_replaces_the_row_and_tasks(session_factory: Sessions) -> None:
    await _project(session_factory, _claimed("IT-000001", 2), [event(1), event(2)])
    assert await _project(session_factory, _resolved("IT-000001", 3), [event(3, "resolved")]) == 1
    row, tasks, seqs = await _state(session_factory, "IT-000001")
    assert (row.status, row.last_seq, row.resolved_at) == ("resolved", 3, T0 + timedelta(hours=2))
    assert [(t.status, t.completed_by, t.data) for t in tasks] == [
        ("done", "bob", {"fix": "new toner"})
    ]
    assert seqs == [1, 2, 3]


async def test_older_snapshot_after_newer_keeps_newer_state(session_factory: Sessions) -> None:
    await _project(session_factory, _resolved("IT-000001", 3), [event(1), event(3, "resolved")])
    # The older call still carries an event the newer one did not: it is kept, the state is not.
    older = _claimed("IT-000001", 2)
    assert await _project(session_factory, older, [event(2, "task_claimed")]) == 1
    row, tasks, seqs = await _state(session_factory, "IT-000001")
    assert (row.status, row.last_seq) == ("resolved", 3)
    assert [(t.status, t.completed_by) for t in tasks] == [("done", "bob")]
    assert seqs == [1, 2, 3]


async def test_overlapping_event_lists_store_each_event_once(session_factory: Sessions) -> None:
    assert await _project(session_factory, snapshot("IT-000001", 2), [event(1), event(2)]) == 2
    later = [event(2), event(3), event(4)]
    assert await _project(session_factory, snapshot("IT-000001", 4), later) == 2
    async with session_factory() as session:
        events = await list_events(session=session, key="IT-000001")
        assert [(e.seq, e.type, e.actor) for e in events] == [
            (n, "comment_added", "alice") for n in (1, 2, 3, 4)
        ]
        after_two = await list_events(session=session, key="IT-000001", after_seq=2)
        assert [e.seq for e in after_two] == [3, 4]


async def test_a_new_round_adds_a_task_row_and_keeps_the_old_one(session_factory: Sessions) -> None:
    await _project(session_factory, _resolved("IT-000001", 3), [])
    reopened = snapshot("IT-000001", 5, tasks=[task("IT-000001", id="IT-000001:fix:2", round=2)])
    await _project(session_factory, reopened, [])
    _, tasks, _ = await _state(session_factory, "IT-000001")
    assert [(t.id, t.round, t.status) for t in tasks] == [
        ("IT-000001:fix:1", 1, "done"),
        ("IT-000001:fix:2", 2, "open"),
    ]


async def test_timestamps_come_back_as_the_same_utc_instant(session_factory: Sessions) -> None:
    plus_two = timezone(timedelta(hours=2))
    created = datetime(2025, 3, 1, 11, 30, 15, 123456, tzinfo=plus_two)
    ticket = snapshot("IT-000001", 1, created_at=created, updated_at=created)
    await _project(session_factory, ticket, [event(1)])
    row, _, _ = await _state(session_factory, "IT-000001")
    assert row.created_at == created
    assert row.created_at.utcoffset() == timedelta(0)
    assert row.created_at == datetime(2025, 3, 1, 9, 30, 15, 123456, tzinfo=UTC)


async def test_concurrent_older_write_does_not_overwrite_newer(session_factory: Sessions) -> None:
    await _project(session_factory, snapshot("IT-000001", 1), [event(1)])
    async with session_factory() as newer:
        await newer.begin()
        await apply_projection(session=newer, ticket=_resolved("IT-000001", 3), events=[event(3)])
        older = asyncio.create_task(_project(session_factory, _claimed("IT-000001", 2), [event(2)]))
        # Let the older call read the ticket while the newer transaction is still open.
        await asyncio.sleep(0.3)
        await newer.commit()
    await older
    row, tasks, seqs = await _state(session_factory, "IT-000001")
    assert (row.status, row.last_seq) == ("resolved", 3)
    assert [t.status for t in tasks] == ["done"]
    assert seqs == [1, 2, 3]


async def test_participants_are_those_given_or_else_those_the_events_show(
    session_factory: Sessions,
) -> None:
    claimed = TicketEvent(
        seq=2, type="task_claimed", at=T0, actor="bob", data={"group": "it-ops", "assignee": "bob"}
    )
    shown = {Participant(GROUP, "it-ops"), Participant(PERSON, "bob")}
    async with session_factory() as session, session.begin():
        # The workflow sends only participants it has not sent before: none here.
        await apply_projection(
            session=session, ticket=_claimed("IT-1", 2), events=[claimed], participants=[]
        )
        await apply_projection(session=session, ticket=_claimed("IT-2", 2), events=[claimed])
    async with session_factory() as session:
        tasks, took_part = await handling_facts(session=session, keys=["IT-1", "IT-2", "IT-3"])
    assert {key: set(found) for key, found in took_part.items()} == {
        "IT-1": set(),
        "IT-2": shown,
        "IT-3": set(),
    }
    # The same query brings every task's (group, status, ever opened).
    assert tasks == {
        "IT-1": [("it-ops", "claimed", True)],
        "IT-2": [("it-ops", "claimed", True)],
        "IT-3": [],
    }


def test_the_rows_written_name_every_column_of_their_tables() -> None:
    # An upsert overwrites every column but the key, so a column left out would be blanked.
    ticket = _claimed("IT-1", 2)
    assert set(_ticket_values(ticket)) == {c.name for c in TicketRow.__table__.c}
    for row in _task_values(ticket):
        assert set(row) == {c.name for c in TaskRow.__table__.c}


async def test_a_rerun_task_sending_the_same_seqs_again_wins(session_factory: Sessions) -> None:
    # A workflow task whose worker died after projecting runs again later: the same seqs, new
    # times and values. Only the rerun is in the history, so the store must end with it.
    lost = [
        event(1, "created"),
        event(2, "sla_started", due_at=(T0 + timedelta(hours=1)).isoformat()),
    ]
    await _project(session_factory, snapshot("IT-000001", 2, title="lost"), lost)
    later = timedelta(seconds=40)
    rerun = [e.model_copy(update={"at": e.at + later}) for e in lost]
    rerun[1] = rerun[1].model_copy(update={"data": {"due_at": (T0 + later).isoformat()}})
    assert await _project(session_factory, snapshot("IT-000001", 2, title="rerun"), rerun) == 0
    async with session_factory() as session:
        events = await list_events(session=session, key="IT-000001")
        queued = (await session.scalars(select(OutboxRow.at).order_by(OutboxRow.seq))).all()
        row = await get_ticket(session=session, key="IT-000001")
    assert [(e.seq, e.at, e.data) for e in events] == [(e.seq, e.at, e.data) for e in rerun]
    assert [at.replace(tzinfo=UTC) if at.tzinfo is None else at for at in queued] == [
        e.at for e in rerun
    ]
    assert row is not None
    assert row.title == "rerun"
