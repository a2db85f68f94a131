"""The 30-day recurrence watch on the time-skipping server, with the real projection: recorded
by the close's and the recurrence's projections and ended by the sweep, no workflow per ticket;
and a watch workflow of an older close still running to its end."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowExecutionStatus, WorkflowHandle
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from domain.definitions import ProcessDefinition
from domain.messages import (
    ClaimInput,
    CompleteInput,
    ConfirmInput,
    ReopenInput,
    StartTicketInput,
    TicketResult,
)
from domain.recurrence import (
    RecurrenceRef,
    RecurrenceWatchInput,
    RecurrenceWatchResult,
    SweepInput,
    SweepResult,
    watch_workflow_id,
)
from services.ticket_creation import find_recurrence
from store.models import RecurrenceWatchRow, TicketEventRow, TicketRow
from tests.builders import DESK, REQUESTER
from tests.dbutil import migrated_sessions, sqlite_url
from tests.temporal_env import time_skipping_env
from tests.workflows.conftest import Stack
from ticketflow.temporal_client import DATA_CONVERTER
from workers.tickets import build_ticket_worker
from workflows.recurrence import RecurrenceSweepWorkflow, RecurrenceWatchWorkflow
from workflows.ticket import RECURRENCE_IN_PROJECTION_PATCH, TicketWorkflow

Handle = WorkflowHandle[TicketWorkflow, TicketResult]
HELPDESK = ProcessDefinition.model_validate(
    {
        "key": "helpdesk",
        "version": 1,
        "title": "Help desk",
        "key_prefix": "HD",
        "department": "service-desk",
        "stages": [{"key": "handle", "title": "Handle", "group": "service-desk"}],
        "confirmation": {"timeout_hours": 24},
    }
)


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[tuple[WorkflowEnvironment, Stack]]:
    """A time-skipping server of this test's own: the test moves its clock by 30 days."""
    environment = await time_skipping_env()
    queue = f"recurrence-{uuid.uuid4().hex[:8]}"
    try:
        async with (
            migrated_sessions(sqlite_url(tmp_path)) as sessions,
            build_ticket_worker(
                client=environment.client,
                task_queue=queue,
                sessions=sessions,
                recurrence_watches=True,
            ),
        ):
            yield environment, Stack(client=environment.client, task_queue=queue, sessions=sessions)
    finally:
        await environment.shutdown()


async def start(
    stack: Stack, intake: dict[str, Any], recurrence_of: RecurrenceRef | None = None
) -> Handle:
    key = f"HD-{uuid.uuid4().hex[:6]}"
    return await stack.client.start_workflow(
        TicketWorkflow.run,
        StartTicketInput(
            key=key,
            definition=HELPDESK,
            intake=intake,
            requester=REQUESTER,
            recurrence_of=recurrence_of,
        ),
        id=key,
        task_queue=stack.task_queue,
    )


async def handle_stage(handle: Handle) -> None:
    await handle.execute_update(TicketWorkflow.claim, ClaimInput(stage_key="handle", actor=DESK))
    await handle.execute_update(
        TicketWorkflow.complete, CompleteInput(stage_key="handle", actor=DESK)
    )


async def close(handle: Handle) -> None:
    """Confirm, then wait for the ticket's workflow to end (real seconds).

    Polled rather than awaited with `result()`, which lets the server skip time while it waits:
    that would run the other watches' 30 days out.
    """
    await handle.execute_update(TicketWorkflow.confirm, ConfirmInput(actor=REQUESTER))
    for _ in range(400):
        if (await handle.describe()).status == WorkflowExecutionStatus.COMPLETED:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{handle.id} never ended")


async def timeline(stack: Stack, key: str) -> list[TicketEventRow]:
    async with stack.sessions() as session:
        rows = await session.scalars(
            select(TicketEventRow)
            .where(TicketEventRow.ticket_key == key)
            .order_by(TicketEventRow.seq)
        )
        return list(rows)


async def ticket_history_events(stack: Stack, key: str) -> list[EventType.ValueType]:
    history = await stack.client.get_workflow_handle(key).fetch_history()
    return [e.event_type for e in history.events]


async def wait_for(check: Callable[[], Awaitable[bool]], what: str) -> None:
    """Poll (real seconds) until `check` holds; awaiting a result would skip time."""
    for _ in range(400):
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{what} never happened")


async def watches(stack: Stack) -> dict[str, RecurrenceWatchRow]:
    async with stack.sessions() as session:
        return {w.ticket_key: w for w in await session.scalars(select(RecurrenceWatchRow))}


async def sweep(stack: Stack) -> SweepResult:
    """One sweep run, as the hourly Schedule starts it (the test server has no Schedules)."""
    return await stack.client.execute_workflow(
        RecurrenceSweepWorkflow.run,
        SweepInput(),
        id=f"sweep-{uuid.uuid4().hex[:6]}",
        task_queue=stack.task_queue,
    )


async def test_a_recurrence_on_day_12_and_none_for_a_reopened_ticket(
    env: tuple[WorkflowEnvironment, Stack],
) -> None:
    environment, stack = env
    printer = await start(stack, {"title": "Printer jams", "asset_id": "PR-1"})
    await handle_stage(printer)
    await close(printer)
    # Reopened before it closed: the reopen is part of its own life, not a recurrence.
    vpn = await start(stack, {"title": "VPN down", "asset_id": "GW-1"})
    await handle_stage(vpn)
    await vpn.execute_update(
        TicketWorkflow.reopen, ReopenInput(actor=REQUESTER, reason="still down")
    )
    await handle_stage(vpn)
    await close(vpn)
    # The close's projection recorded each watch: no watch workflow, no activity to start one.
    assert {k: w.status for k, w in (await watches(stack)).items()} == {
        printer.id: "watching",
        vpn.id: "watching",
    }
    for handle in (printer, vpn):
        with pytest.raises(RPCError) as missing:
            await stack.client.get_workflow_handle(watch_workflow_id(handle.id)).describe()
        assert missing.value.status == RPCStatusCode.NOT_FOUND
        history = await ticket_history_events(stack, handle.id)
        assert EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED not in history
        events = await timeline(stack, handle.id)
        assert [e.type for e in events][-2:] == ["closed", "recurrence_watch_started"]

    await environment.sleep(timedelta(days=12))
    now = await environment.get_current_time()
    again = {"title": "the printer is jamming again", "asset_id": "pr-1"}
    async with stack.sessions() as session:
        ref = await find_recurrence(session=session, definition=HELPDESK, data=again, now=now)
        # Another asset's jam is another problem.
        other = {"title": "Printer jams", "asset_id": "PR-2"}
        assert (
            await find_recurrence(session=session, definition=HELPDESK, data=other, now=now) is None
        )
    assert ref is not None
    assert ref.key == printer.id
    recurrence = await start(stack, again, recurrence_of=ref)

    async def recurred() -> bool:
        return (await watches(stack))[printer.id].status == "recurred"

    # The new ticket's creation projection records it on the closed ticket: no signal.
    await wait_for(recurred, "the recurrence")
    assert EventType.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED not in (
        await ticket_history_events(stack, recurrence.id)
    )
    # Day 31: the other watch's 30 days are over; the sweep ends it, and a rerun ends nothing.
    await environment.sleep(timedelta(days=19))
    assert await sweep(stack) == SweepResult(ended=1, batches=1)
    assert await sweep(stack) == SweepResult(ended=0, batches=1)

    found = await watches(stack)
    async with stack.sessions() as session:
        rows = {r.key: r for r in await session.scalars(select(TicketRow))}
    printed, vpned = found[printer.id], found[vpn.id]
    assert printed.status == "recurred"
    assert printed.recurred_by == recurrence.id
    assert printed.decided_at is not None
    assert printed.decided_at - printed.closed_at >= timedelta(days=12)
    assert printed.decided_at - printed.closed_at < timedelta(days=13)
    assert vpned.status == "eradicated"
    assert vpned.recurred_by is None
    assert vpned.ends_at == vpned.closed_at + timedelta(days=30)
    # Stamped with the window's end, not with the sweep's later run.
    assert vpned.decided_at == vpned.ends_at

    # The closed ticket's timeline goes on after "closed", seq by seq; its row follows.
    events = await timeline(stack, printer.id)
    assert [e.type for e in events][-3:] == ["closed", "recurrence_watch_started", "recurred"]
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert events[-1].data["by"] == recurrence.id
    assert rows[printer.id].last_seq == events[-1].seq
    # The new ticket says what it recurs, right after its creation.
    mine = await timeline(stack, recurrence.id)
    assert [e.type for e in mine][:2] == ["created", "recurrence_of"]
    assert mine[1].data["ticket"] == printer.id
    vpn_events = await timeline(stack, vpn.id)
    assert "reopened" in [e.type for e in vpn_events]
    assert "recurred" not in [e.type for e in vpn_events]
    assert [e.type for e in vpn_events][-3:] == ["closed", "recurrence_watch_started", "eradicated"]
    assert vpn_events[-1].at == vpned.ends_at

    # Both paths are behind their patch, and the histories they make replay.
    for handle in (printer, recurrence):
        history = await handle.fetch_history()
        patches = [
            json.loads(payload.data)["id"]
            for e in history.events
            if e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED
            and e.marker_recorded_event_attributes.marker_name == "core_patch"
            for payload in e.marker_recorded_event_attributes.details["patch-data"].payloads
        ]
        assert RECURRENCE_IN_PROJECTION_PATCH in patches
        await Replayer(workflows=[TicketWorkflow], data_converter=DATA_CONVERTER).replay_workflow(
            history
        )

    # Once recurred or over, a watch no longer takes recurrences.
    async with stack.sessions() as session:
        later = await environment.get_current_time()
        for intake in (again, {"title": "VPN down", "asset_id": "GW-1"}):
            assert (
                await find_recurrence(session=session, definition=HELPDESK, data=intake, now=later)
                is None
            )


async def test_a_watch_workflow_of_an_older_close_still_ends_and_writes_its_outcome_once(
    env: tuple[WorkflowEnvironment, Stack],
) -> None:
    environment, stack = env
    ticket = await start(stack, {"title": "Pump stopped", "asset_id": "P-7"})
    await handle_stage(ticket)
    await close(ticket)
    (row,) = (await watches(stack)).values()
    # As a close under the older code started it: its first step finds the start recorded.
    watch = await stack.client.start_workflow(
        RecurrenceWatchWorkflow.run,
        RecurrenceWatchInput(ticket_key=ticket.id, closed_at=row.closed_at),
        id=watch_workflow_id(ticket.id),
        task_queue=stack.task_queue,
    )
    started = await watch.execute_update(RecurrenceWatchWorkflow.watching)
    assert started.run_id == watch.result_run_id
    await environment.sleep(timedelta(days=31))
    # The sweep and the watch's own timer both end the window: one of them writes it.
    assert (await sweep(stack)).ended in (0, 1)
    assert await watch.result() == RecurrenceWatchResult(ticket_key=ticket.id, outcome="eradicated")
    types = [e.type for e in await timeline(stack, ticket.id)]
    assert types[-3:] == ["closed", "recurrence_watch_started", "eradicated"]
    assert types.count("recurrence_watch_started") == types.count("eradicated") == 1
