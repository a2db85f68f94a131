"""Compares what the store projected with what each workflow recorded, and with a clean run."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowExecutionStatus

from store.db import make_sync_engine
from store.models import OutboxRow, TaskRow, TicketEventRow, TicketRow
from tests.chaos.receiver import Arrival
from ticketflow.temporal_client import DATA_CONVERTER
from workflows.ticket import TicketWorkflow

# One transition as a clean run and a disturbed run must both show it.
Step = tuple[str, str, object, object]


# What is written on a ticket's timeline past its workflow's last seq, at and after close.
AFTER_CLOSE_EVENTS = frozenset(
    {
        "recurrence_watch_started",
        "recurred",
        "eradicated",
        "care_started",
        "care_action",
        "care_ended",
    }
)
# How long a closed ticket's workflow may take to start what follows the close.
AFTER_CLOSE_BOUND = 120


def _utc(at: datetime) -> datetime:
    """SQLite hands datetimes back without their zone (they are stored in UTC)."""
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


@dataclass(frozen=True)
class Recorded:
    """One ticket as its workflow recorded it and as the store projected it."""

    key: str
    history: list[tuple[int, str, str, datetime, dict[str, Any]]]
    projected: list[tuple[int, str, str, datetime, dict[str, Any]]]
    status: str | None
    last_seq: int | None
    tasks: list[tuple[Any, ...]]
    accepted_updates: list[str]
    completed_updates: list[str]
    runs: list[WorkflowExecutionStatus]

    def steps(self) -> list[Step]:
        """The life as a sequence of transitions, without times, ids or free text."""
        return [
            (t, actor, data.get("stage"), data.get("rung")) for _, t, actor, _, data in self.history
        ]

    def end_state(self) -> tuple[Any, ...]:
        """What an undisturbed run must end with too."""
        return (self.status, self.tasks, self.steps())


async def _from_temporal(client: Client, key: str) -> tuple[Any, ...]:
    handle = client.get_workflow_handle(key)
    # A closed ticket's workflow still starts its care before it ends.
    async with asyncio.timeout(AFTER_CLOSE_BOUND):
        await handle.result()
    state = await handle.query(TicketWorkflow.state)
    history = [(e.seq, e.type, e.actor, _utc(e.at), e.data) for e in state.events]
    accepted, completed = [], []
    async for event in handle.fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
            attributes = event.workflow_execution_update_accepted_event_attributes
            accepted.append(attributes.accepted_request.meta.update_id)
        elif event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED:
            completed.append(
                event.workflow_execution_update_completed_event_attributes.meta.update_id
            )
    runs = [
        w.status
        async for w in client.list_workflows(f'WorkflowId = "{key}"')
        if w.status is not None
    ]
    return history, accepted, completed, runs


async def recorded(*, temporal_address: str, database_url: str, keys: list[str]) -> list[Recorded]:
    """Read every ticket from its workflow (state by query, Updates by history) and the store."""
    client = await Client.connect(temporal_address, data_converter=DATA_CONVERTER)
    engine = make_sync_engine(database_url)
    found = []
    try:
        for key in keys:
            history, accepted, completed, runs = await _from_temporal(client, key)
            with engine.connect() as connection:
                ticket = connection.execute(
                    select(TicketRow.status, TicketRow.last_seq).where(TicketRow.key == key)
                ).one_or_none()
                events = connection.execute(
                    select(
                        TicketEventRow.seq,
                        TicketEventRow.type,
                        TicketEventRow.actor,
                        TicketEventRow.at,
                        TicketEventRow.data,
                    )
                    .where(TicketEventRow.ticket_key == key)
                    .order_by(TicketEventRow.seq)
                ).all()
                tasks = connection.execute(
                    select(
                        TaskRow.stage_key,
                        TaskRow.round,
                        TaskRow.status,
                        TaskRow.assignee,
                        TaskRow.completed_by,
                        TaskRow.data,
                    )
                    .where(TaskRow.ticket_key == key)
                    .order_by(TaskRow.stage_key, TaskRow.round)
                ).all()
            found.append(
                Recorded(
                    key=key,
                    history=history,
                    projected=[(s, t, a, _utc(at), d) for s, t, a, at, d in events],
                    status=ticket.status if ticket else None,
                    last_seq=ticket.last_seq if ticket else None,
                    tasks=[tuple(t) for t in tasks],
                    accepted_updates=accepted,
                    completed_updates=completed,
                    runs=runs,
                )
            )
    finally:
        engine.dispose()
    return found


def tickets_of_definition(*, database_url: str, definition: str) -> int:
    """How many ticket rows the store holds for a definition (orphans included)."""
    engine = make_sync_engine(database_url)
    try:
        with engine.connect() as connection:
            count = connection.scalar(
                select(func.count())
                .select_from(TicketRow)
                .where(TicketRow.definition_key == definition)
            )
    finally:
        engine.dispose()
    return int(count or 0)


def _event_findings(ticket: Recorded) -> list[str]:
    """Projected events against recorded ones, seq by seq: lost, doubled, changed, reordered."""
    findings = []
    history = {e[0]: e for e in ticket.history}
    projected = {e[0]: e for e in ticket.projected}
    seqs = [e[0] for e in ticket.history]
    if seqs != list(range(1, len(seqs) + 1)):
        findings.append(f"the workflow's seqs are not 1..{len(seqs)}: {seqs}")
    lost = sorted(history.keys() - projected.keys())
    if lost:
        findings.append(f"lost from the projection: {[history[s][:3] for s in lost]}")
    # Past the workflow's last seq come the events others append after close: care's, and the
    # recurrence watch's (its start written with the close's projection, its end by a recurrence
    # or the sweep).
    extra = sorted(
        s
        for s in projected.keys() - history.keys()
        if not (s > len(history) and projected[s][1] in AFTER_CLOSE_EVENTS)
    )
    if extra:
        findings.append(f"projected but never recorded: {[projected[s][:3] for s in extra]}")
    for seq in sorted(history.keys() & projected.keys()):
        if history[seq] != projected[seq]:
            findings.append(
                f"seq {seq} differs: recorded {history[seq]}, projected {projected[seq]}"
            )
    times = [e[3] for e in ticket.projected]
    if times != sorted(times):
        findings.append(f"projected events out of time order: {[e[:4] for e in ticket.projected]}")
    return findings


def _workflow_findings(ticket: Recorded) -> list[str]:
    findings = []
    doubled = [u for u, n in Counter(ticket.accepted_updates).items() if n > 1]
    if doubled:
        findings.append(f"Updates accepted twice: {doubled}")
    if sorted(ticket.accepted_updates) != sorted(ticket.completed_updates):
        findings.append(
            f"accepted Updates {ticket.accepted_updates} != completed {ticket.completed_updates}"
        )
    finished = [s for s in ticket.runs if s != WorkflowExecutionStatus.CONTINUED_AS_NEW]
    if finished != [WorkflowExecutionStatus.COMPLETED]:
        findings.append(f"workflow runs under the key: {[s.name for s in ticket.runs]}")
    last_projected = max((e[0] for e in ticket.projected), default=0)
    if ticket.last_seq != max(len(ticket.history), last_projected):
        findings.append(f"ticket row last_seq {ticket.last_seq}, recorded {len(ticket.history)}")
    return findings


def findings(tickets: list[Recorded], clean: Recorded) -> list[str]:
    """Every way these tickets differ from their own workflows or from the clean run."""
    found = []
    for ticket in tickets:
        problems = _event_findings(ticket) + _workflow_findings(ticket)
        if ticket.end_state() != clean.end_state():
            problems.append(
                f"end state differs from the undisturbed run's:\n  got  {ticket.end_state()}"
                f"\n  want {clean.end_state()}"
            )
        found += [f"{ticket.key}: {p}" for p in problems]
    return found


def outbox_of(*, database_url: str, keys: list[str]) -> dict[str, list[tuple[int, str]]]:
    """Each ticket's outbound events (seq, type) as the projection queued them, in seq order."""
    engine = make_sync_engine(database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                select(OutboxRow.ticket_key, OutboxRow.seq, OutboxRow.type)
                .where(OutboxRow.ticket_key.in_(keys))
                .order_by(OutboxRow.ticket_key, OutboxRow.seq)
            ).all()
    finally:
        engine.dispose()
    found: dict[str, list[tuple[int, str]]] = {key: [] for key in keys}
    for key, seq, kind in rows:
        found[key].append((seq, kind))
    return found


def delivered(arrivals: list[Arrival]) -> dict[str, list[tuple[str, int, str]]]:
    """Each ticket's webhook deliveries (event id, seq, type) in arrival order, repeats kept."""
    found: dict[str, list[tuple[str, int, str]]] = {}
    for arrival in arrivals:
        event = arrival.json()
        found.setdefault(event["subject"], []).append(
            (event["id"], event["data"]["seq"], event["data"]["type"])
        )
    return found


def delivery_findings(
    outbox: dict[str, list[tuple[int, str]]], arrivals: list[Arrival]
) -> list[str]:
    """Every queued event arrived at least once, once after dedupe by id, in seq order."""
    found = []
    by_ticket = delivered(arrivals)
    for key, queued in outbox.items():
        seen: dict[str, tuple[int, str]] = {}
        for event, seq, kind in by_ticket.get(key, []):
            if event in seen and seen[event] != (seq, kind):
                found.append(f"{key}: event {event} redelivered as {seq, kind}, was {seen[event]}")
            seen.setdefault(event, (seq, kind))
        once = list(seen.values())
        if once != queued:
            found.append(f"{key}: delivered after dedupe {once}, queued {queued}")
        ids = [event for event, _, _ in by_ticket.get(key, [])]
        if any(f"{key}-{seq}" != event for event, seq, _ in by_ticket.get(key, [])):
            found.append(f"{key}: event ids not <key>-<seq>: {ids}")
    return found


def care_findings(expected: dict[str, list[str]], arrivals: list[Arrival]) -> list[str]:
    """Each ticket's care actions reached the connector exactly once each."""
    sent: dict[str, list[str]] = {key: [] for key in expected}
    for arrival in arrivals:
        body = arrival.json()
        sent.setdefault(body["ticket_key"], []).append(body["action"])
    return [
        f"{key}: care actions sent {sent.get(key, [])}, want each of {actions} once"
        for key, actions in expected.items()
        if sorted(sent.get(key, [])) != sorted(actions)
    ]
