"""Write one transition of a ticket: ticket row, task rows and new events, idempotently."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from domain.participation import Participant, participants_in
from domain.sla import SlaClock
from domain.ticket import TicketEvent, TicketSnapshot
from store.models import (
    Base,
    SlaClockRow,
    SlaEventRow,
    TaskRow,
    TicketEventRow,
    TicketParticipantRow,
    TicketRow,
)
from store.participants import participant_rows
from store.triage import TRIAGE_EVENTS, record_triage_events


def _insert(session: AsyncSession, model: type[Base]) -> sqlite.Insert | postgresql.Insert:
    """A Core INSERT (no ORM bookkeeping) with the dialect's ON CONFLICT support."""
    table = model.__table__
    assert isinstance(table, Table)  # declarative models map one Table each
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


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
    """Clock rows follow the ticket row's newest-wins guard; SLA events are kept once each."""
    if won and clocks:
        upsert = _insert(session, SlaClockRow).values([_clock_values(ticket, c) for c in clocks])
        await session.execute(
            upsert.on_conflict_do_update(
                index_elements=[SlaClockRow.ticket_key, SlaClockRow.clock_id],
                set_={
                    c.name: upsert.excluded[c.name]
                    for c in SlaClockRow.__table__.c
                    if c.name not in ("ticket_key", "clock_id")
                },
            )
        )
    sla_events = [_sla_event_values(ticket.key, e) for e in events if e.type.startswith("sla_")]
    if sla_events:
        await session.execute(
            _insert(session, SlaEventRow).values(sla_events).on_conflict_do_nothing()
        )


async def apply_projection(
    *,
    session: AsyncSession,
    ticket: TicketSnapshot,
    events: list[TicketEvent],
    clocks: list[SlaClock] | None = None,
    participants: Iterable[Participant] | None = None,
) -> int:
    """Upsert the ticket and its tasks unless a newer snapshot is stored; insert unseen events.

    `participants` are those to record (the workflow leaves out those it recorded before);
    without them, every participant the events show is recorded.

    Returns how many events were new. Calls may arrive twice (activity retries) or out of
    order (concurrent Updates): the ticket upsert only wins with a higher `last_seq` (the guard
    sits in the statement, so no read-then-write race exists even on SQLite), and the event
    primary key keeps each event once, like the participants. A handful of statements, whatever
    the ticket's size.
    """
    values = _ticket_values(ticket)
    upsert = _insert(session, TicketRow).values(values)
    won = await session.scalar(
        upsert.on_conflict_do_update(
            index_elements=[TicketRow.key],
            set_={k: upsert.excluded[k] for k in values if k != "key"},
            where=TicketRow.__table__.c.last_seq < upsert.excluded.last_seq,
        ).returning(TicketRow.key)
    )
    if won is not None and ticket.tasks:
        tasks = _insert(session, TaskRow).values(_task_values(ticket))
        await session.execute(
            tasks.on_conflict_do_update(
                index_elements=[TaskRow.id],
                set_={
                    c.name: tasks.excluded[c.name] for c in TaskRow.__table__.c if c.name != "id"
                },
            )
        )
    await _project_sla(session, ticket, events, clocks or [], won is not None)
    if not events:
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
    inserted = await session.scalars(
        _insert(session, TicketEventRow)
        .values(rows)
        .on_conflict_do_nothing()
        .returning(TicketEventRow.seq)
    )
    new = set(inserted.all())
    # Who took part is kept apart from where the tasks are now; inserting twice is harmless.
    if participants is None:
        participants = participants_in((e.type, e.actor, e.data) for e in events)
    participant_values = participant_rows(ticket.key, participants)
    if participant_values:
        await session.execute(
            _insert(session, TicketParticipantRow)
            .values(participant_values)
            .on_conflict_do_nothing()
        )
    # Triage bookkeeping rides in the same transaction, once per event like the event rows.
    triage_events = [e for e in events if e.seq in new and e.type in TRIAGE_EVENTS]
    if triage_events:
        await record_triage_events(session=session, ticket=ticket, events=triage_events)
    return len(new)
