"""Write one transition of a ticket: ticket row, task rows and new events, idempotently."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Table, Update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import ReturningInsert

from domain.devices import Snapshot
from domain.participation import GROUP, Participant, participants_in
from domain.sla import SlaClock
from domain.ticket import TicketEvent, TicketSnapshot
from store.deliverables import ATTACHED, record_versions
from store.devices import insert_snapshot
from store.models import (
    Base,
    SlaClockRow,
    SlaEventRow,
    TaskRow,
    TicketEventRow,
    TicketParticipantRow,
    TicketRow,
)
from store.outbox import queue_outbound
from store.participants import participant_rows
from store.tickets import refresh_departments_statement
from store.triage import TRIAGE_EVENTS, record_triage_events

Insert = sqlite.Insert | postgresql.Insert


def _table(model: type[Base]) -> Table:
    table = model.__table__
    assert isinstance(table, Table)  # declarative models map one Table each
    return table


@dataclass(frozen=True)
class _Statements:
    """The projection's statements for one dialect, built once and run with parameters.

    Built per call, multi-row VALUES and ON CONFLICT clauses cost more to construct and
    compile than to run; built once, SQLAlchemy compiles each a single time.
    """

    ticket: ReturningInsert[Any]
    tasks: Insert
    events: ReturningInsert[Any]
    events_again: Insert
    participants: Insert
    clocks: Insert
    sla_events: Insert
    departments: Update


@cache
def _statements(dialect: str) -> _Statements:
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert

    def upsert(
        model: type[Base], *keys: str, newer_only: bool = False, derived: tuple[str, ...] = ()
    ) -> Insert:
        """Insert, or on a key conflict overwrite every other column (each call sets them all).

        `derived` columns are left as they are on a conflict: a later statement sets them.

        `newer_only`: overwrite only with the same or a higher `last_seq` (the newest snapshot
        wins; of two with the same, the later: a workflow task run again after its worker died
        sends again what the lost run sent, stamped with the rerun's time, and only the rerun
        is in the history).
        """
        table = _table(model)
        statement = insert(table)
        newer = table.c.last_seq <= statement.excluded.last_seq if newer_only else None
        return statement.on_conflict_do_update(
            index_elements=list(keys),
            set_={
                c.name: statement.excluded[c.name]
                for c in table.c
                if c.name not in keys and c.name not in derived
            },
            where=newer,
        )

    return _Statements(
        ticket=upsert(TicketRow, "key", newer_only=True, derived=("departments",)).returning(
            _table(TicketRow).c.key
        ),
        tasks=upsert(TaskRow, "id"),
        events=insert(_table(TicketEventRow))
        .on_conflict_do_nothing()
        .returning(_table(TicketEventRow).c.seq),
        events_again=upsert(TicketEventRow, "ticket_key", "seq"),
        participants=insert(_table(TicketParticipantRow)).on_conflict_do_nothing(),
        clocks=upsert(SlaClockRow, "ticket_key", "clock_id"),
        sla_events=upsert(SlaEventRow, "ticket_key", "seq"),
        departments=refresh_departments_statement(dialect),
    )


def _statements_of(session: AsyncSession) -> _Statements:
    return _statements(session.get_bind().dialect.name)


def _ticket_values(ticket: TicketSnapshot) -> dict[str, Any]:
    return {
        "key": ticket.key,
        "definition_key": ticket.definition_key,
        "definition_version": ticket.definition_version,
        "department": ticket.department,
        "title": ticket.title,
        "status": ticket.status.value,
        "requester": ticket.requester,
        "intake": ticket.intake,
        "created_at": ticket.created_at,
        "updated_at": ticket.updated_at,
        "resolved_at": ticket.resolved_at,
        "closed_at": ticket.closed_at,
        "last_seq": ticket.last_seq,
        "priority": ticket.priority,
        "waiting_for": ticket.waiting_for,
        "parent_key": ticket.parent_key,
        "category": ticket.category,
        # Set by the departments statement once tasks and participants are written.
        "departments": [],
    }


def _task_values(ticket: TicketSnapshot) -> list[dict[str, Any]]:
    return [
        {
            "id": task.id,
            "ticket_key": ticket.key,
            "stage_key": task.stage_key,
            "kind": task.kind,
            "title": task.title,
            "group_name": task.group,
            "status": task.status.value,
            "assignee": task.assignee,
            "round": task.round,
            "opened_at": task.opened_at,
            "claimed_at": task.claimed_at,
            "completed_at": task.completed_at,
            "completed_by": task.completed_by,
            "data": task.data,
            "until": task.until,
            "child": task.child,
            "error": task.error,
        }
        for task in ticket.tasks
    ]


def _clock_values(ticket: TicketSnapshot, clock: SlaClock) -> dict[str, Any]:
    return {
        "ticket_key": ticket.key,
        "clock_id": clock.id,
        "stage_key": clock.stage,
        "round": clock.round,
        "milestone": clock.milestone,
        "calendar": clock.calendar,
        "state": clock.state().value,
        "target_seconds": clock.target.total_seconds(),
        "started_at": clock.started_at,
        "elapsed_seconds": clock.elapsed.total_seconds(),
        "paused_seconds": clock.paused.total_seconds(),
        "running_since": clock.running_since,
        "paused_since": clock.paused_since,
        "stopped_at": clock.stopped_at,
        "breached_at": clock.breached_at,
        "fired": clock.fired,
        "last_seq": ticket.last_seq,
    }


def _sla_event_values(key: str, event: TicketEvent) -> dict[str, Any]:
    due = event.data.get("due_at")
    return {
        "ticket_key": key,
        "seq": event.seq,
        "clock_id": str(event.data.get("clock", "")),
        "type": event.type,
        "at": event.at,
        "rung": event.data.get("rung"),
        "due_at": datetime.fromisoformat(due) if isinstance(due, str) else None,
        "data": event.data,
    }


async def _project_sla(
    session: AsyncSession,
    ticket: TicketSnapshot,
    events: list[TicketEvent],
    clocks: list[SlaClock],
    won: bool,
) -> None:
    """Clock rows follow the ticket row's newest-wins guard; SLA events are kept once each
    (with the values they were last sent with)."""
    statements = _statements_of(session)
    if won and clocks:
        await session.execute(statements.clocks, [_clock_values(ticket, c) for c in clocks])
    sla_events = [_sla_event_values(ticket.key, e) for e in events if e.type.startswith("sla_")]
    if sla_events:
        await session.execute(statements.sla_events, sla_events)


async def apply_projection(
    *,
    session: AsyncSession,
    ticket: TicketSnapshot,
    events: list[TicketEvent],
    clocks: list[SlaClock] | None = None,
    participants: Iterable[Participant] | None = None,
    snapshots: Mapping[int, Snapshot] | None = None,
) -> int:
    """Upsert the ticket and its tasks unless a newer snapshot is stored; insert unseen events.

    `participants` are those to record (the workflow leaves out those it recorded before);
    without them, every participant the events show is recorded.

    `snapshots` are the sealed device snapshots the ticket took, by the seq of the event that
    records each: stored with the ticket's key when that event is new, so once.

    Returns how many events were new. Calls may arrive twice (activity retries, or a
    workflow task run again after its worker died, with the rerun's times) or out of order
    (concurrent Updates): the ticket upsert only wins with the same or a higher `last_seq` (the
    guard sits in the statement, so no read-then-write race exists even on SQLite), and the
    event primary key keeps each event once, with the values it was last sent with, like the
    outbox and the participants. A handful of statements, whatever the ticket's size.
    """
    statements = _statements_of(session)
    won = await session.scalar(statements.ticket, _ticket_values(ticket))
    if won is not None and ticket.tasks:
        await session.execute(statements.tasks, _task_values(ticket))
    await _project_sla(session, ticket, events, clocks or [], won is not None)
    if not events:
        if won is not None:
            await session.execute(statements.departments, {"ticket_key": ticket.key})
        return 0
    rows = [
        {
            "ticket_key": ticket.key,
            "seq": e.seq,
            "type": e.type,
            "at": e.at,
            "actor": e.actor,
            "data": e.data,
        }
        for e in events
    ]
    new = set((await session.scalars(statements.events, rows)).all())
    # Events sent again carry the values of the run the history kept (see `upsert`).
    again = [row for row in rows if row["seq"] not in new]
    if again:
        await session.execute(statements.events_again, again)
    # Who took part is kept apart from where the tasks are now; inserting twice is harmless.
    if participants is None:
        participants = participants_in((e.type, e.actor, e.data) for e in events)
    participant_values = participant_rows(ticket.key, participants)
    if participant_values:
        await session.execute(statements.participants, participant_values)
    # The ticket's departments follow its owner, tasks and group participants, read back
    # from their rows (this call may have written none of them, or an older snapshot's).
    if won is not None or any(p["kind"] == GROUP for p in participant_values):
        await session.execute(statements.departments, {"ticket_key": ticket.key})
    # Triage bookkeeping rides in the same transaction, once per event like the event rows.
    triage_events = [e for e in events if e.seq in new and e.type in TRIAGE_EVENTS]
    if triage_events:
        await record_triage_events(session=session, ticket=ticket, events=triage_events)
    for seq, snapshot in (snapshots or {}).items():
        if seq in new:
            await insert_snapshot(session=session, snapshot=snapshot, ticket_key=ticket.key)
    attached = [e for e in events if e.seq in new and e.type == ATTACHED]
    if attached:
        await record_versions(session=session, key=ticket.key, events=attached)
    await queue_outbound(
        session=session, key=ticket.key, events=[(e.seq, e.type, e.at) for e in events]
    )
    return len(new)
