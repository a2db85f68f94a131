"""A long-lived ticket continues as new when Temporal suggests it, losing nothing."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from temporalio.testing import WorkflowEnvironment

from domain.messages import (
    ClaimInput,
    CommentInput,
    CompleteInput,
    ConfirmInput,
    ExternalEventInput,
    StartTicketInput,
)
from domain.ticket import TaskStatus, TicketStatus
from store.models import TicketEventRow, TicketRow
from tests.builders import DESK, DEV, OPS, REQUESTER, STAGE_DATA, incident
from tests.dbutil import migrated_sessions, sqlite_url
from tests.domain.processes import process, stage
from tests.temporal_env import dev_server_env
from workers.tickets import build_ticket_worker
from workflows.ticket import TicketWorkflow

pytestmark = pytest.mark.e2e
SUGGEST_AFTER_EVENTS = 40


@pytest.fixture(scope="module")
async def chatty_env() -> AsyncIterator[WorkflowEnvironment]:
    """A dev server that suggests continue-as-new after a few dozen history events."""
    env = await dev_server_env(
        [
            "--dynamic-config-value",
            f"limit.historyCount.suggestContinueAsNew={SUGGEST_AFTER_EVENTS}",
        ]
    )
    try:
        yield env
    finally:
        await env.shutdown()


async def test_long_ticket_continues_as_new_and_keeps_its_state(
    chatty_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    queue = f"can-{uuid.uuid4().hex[:8]}"
    key = f"INC-{uuid.uuid4().hex[:6]}"
    async with (
        migrated_sessions(sqlite_url(tmp_path)) as sessions,
        build_ticket_worker(client=chatty_env.client, task_queue=queue, sessions=sessions),
    ):
        handle = await chatty_env.client.start_workflow(
            TicketWorkflow.run,
            StartTicketInput(
                key=key, definition=incident(), intake={"title": "flaky"}, requester=REQUESTER
            ),
            id=key,
            task_queue=queue,
        )
        first_run = handle.result_run_id
        await handle.execute_update(
            TicketWorkflow.claim, ClaimInput(stage_key="triage", actor=DESK)
        )
        for i in range(12):
            await handle.execute_update(
                TicketWorkflow.comment, CommentInput(actor=DESK, body=f"update {i}")
            )
        latest = chatty_env.client.get_workflow_handle_for(TicketWorkflow.run, key)
        assert (await latest.describe()).run_id != first_run

        await latest.execute_update(
            TicketWorkflow.complete, CompleteInput(stage_key="triage", actor=DESK)
        )
        for stage, who in (("diagnose", OPS), ("fix", DEV), ("verify", DESK)):
            await latest.execute_update(
                TicketWorkflow.claim, ClaimInput(stage_key=stage, actor=who)
            )
            await latest.execute_update(
                TicketWorkflow.complete,
                CompleteInput(stage_key=stage, actor=who, data=STAGE_DATA[stage]),
            )
        await latest.execute_update(TicketWorkflow.confirm, ConfirmInput(actor=REQUESTER))
        result = await latest.result()
        assert result.status == TicketStatus.CLOSED

        async with sessions() as session:
            seqs = list(
                (
                    await session.scalars(
                        select(TicketEventRow.seq)
                        .where(TicketEventRow.ticket_key == key)
                        .order_by(TicketEventRow.seq)
                    )
                ).all()
            )
            row = await session.get(TicketRow, key)
        assert seqs == list(range(1, result.last_seq + 1))
        assert row is not None
        assert row.status == "closed"
        assert row.last_seq == result.last_seq


async def test_running_waits_and_timers_start_again_after_continue_as_new(
    chatty_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    queue = f"can-{uuid.uuid4().hex[:8]}"
    key = f"FLOW-{uuid.uuid4().hex[:6]}"
    definition = process(
        stage("part", kind="wait", wait={"signal": "external_update"}),
        stage("cool", kind="timer", timer={"duration": "PT4S"}),
        stage("after", depends_on=["part", "cool"]),
    )
    async with (
        migrated_sessions(sqlite_url(tmp_path)) as sessions,
        build_ticket_worker(client=chatty_env.client, task_queue=queue, sessions=sessions),
    ):
        handle = await chatty_env.client.start_workflow(
            TicketWorkflow.run,
            StartTicketInput(key=key, definition=definition, requester=REQUESTER),
            id=key,
            task_queue=queue,
        )
        first_run = handle.result_run_id
        for i in range(12):
            await handle.execute_update(
                TicketWorkflow.comment, CommentInput(actor=DESK, body=f"update {i}")
            )
        latest = chatty_env.client.get_workflow_handle_for(TicketWorkflow.run, key)
        assert (await latest.describe()).run_id != first_run
        state = await latest.query(TicketWorkflow.state)
        assert state.tasks["cool"].status == TaskStatus.RUNNING  # carried over, still asleep

        await latest.signal(
            TicketWorkflow.external_event,
            ExternalEventInput(name="external_update", source="crm", signal_id="s1"),
        )
        for _ in range(200):
            state = await latest.query(TicketWorkflow.state)
            if state.tasks["after"].status == TaskStatus.OPEN:
                break
            await asyncio.sleep(0.1)
        assert state.tasks["part"].status == TaskStatus.DONE
        assert state.tasks["cool"].status == TaskStatus.DONE
        assert state.tasks["after"].status == TaskStatus.OPEN
        fired = next(e for e in state.events if e.type == "timer_fired")
        assert fired.at >= state.created_at + timedelta(seconds=4)
