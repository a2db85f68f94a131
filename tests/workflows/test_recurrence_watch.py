"""The 30-day recurrence watch on the time-skipping server, with the real projection."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from temporalio.client import WorkflowExecutionStatus, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from domain.definitions import ProcessDefinition
from domain.messages import (
    ClaimInput,
    CompleteInput,
    ConfirmInput,
    ReopenInput,
    StartTicketInput,
    TicketResult,
)
from domain.recurrence import RecurrenceRef, RecurrenceWatchResult, watch_workflow_id
from services.ticket_creation import find_recurrence
from store.models import RecurrenceWatchRow, TicketEventRow, TicketRow
from tests.builders import DESK, REQUESTER
from tests.dbutil import migrated_sessions, sqlite_url
from tests.temporal_env import time_skipping_env
from tests.workflows.conftest import Stack
from workers.tickets import build_ticket_worker
from workflows.ticket import TicketWorkflow

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
    # A ticket's workflow ends once its watch has recorded that it runs.
    async with stack.sessions() as session:
        watches = {w.ticket_key: w for w in await session.scalars(select(RecurrenceWatchRow))}
    assert {k: w.status for k, w in watches.items()} == {
        printer.id: "watching",
        vpn.id: "watching",
    }

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

    watch = stack.client.get_workflow_handle(
        watch_workflow_id(printer.id), result_type=RecurrenceWatchResult
    )
    assert await watch.result() == RecurrenceWatchResult(
        ticket_key=printer.id, outcome="recurred", by=recurrence.id
    )
    # Day 31: the other watch's 30 days are over.
    await environment.sleep(timedelta(days=19))
    vpn_watch = stack.client.get_workflow_handle(
        watch_workflow_id(vpn.id), result_type=RecurrenceWatchResult
    )
    assert await vpn_watch.result() == RecurrenceWatchResult(
        ticket_key=vpn.id, outcome="eradicated"
    )

    async with stack.sessions() as session:
        watches = {w.ticket_key: w for w in await session.scalars(select(RecurrenceWatchRow))}
        rows = {r.key: r for r in await session.scalars(select(TicketRow))}
    printed, vpned = watches[printer.id], watches[vpn.id]
    assert printed.status == "recurred"
    assert printed.recurred_by == recurrence.id
    assert printed.decided_at is not None
    assert printed.decided_at - printed.closed_at >= timedelta(days=12)
    assert printed.decided_at - printed.closed_at < timedelta(days=13)
    assert vpned.status == "eradicated"
    assert vpned.recurred_by is None
    assert vpned.ends_at == vpned.closed_at + timedelta(days=30)
    assert vpned.decided_at is not None
    assert vpned.ends_at <= vpned.decided_at < vpned.closed_at + timedelta(days=31)

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
    vpn_events = [e.type for e in await timeline(stack, vpn.id)]
    assert "reopened" in vpn_events
    assert "recurred" not in vpn_events
    assert vpn_events[-3:] == ["closed", "recurrence_watch_started", "eradicated"]

    # Once recurred or over, a watch no longer takes recurrences.
    async with stack.sessions() as session:
        later = await environment.get_current_time()
        for intake in (again, {"title": "VPN down", "asset_id": "GW-1"}):
            assert (
                await find_recurrence(session=session, definition=HELPDESK, data=intake, now=later)
                is None
            )
