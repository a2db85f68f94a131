"""Retraining on the dev server: the Schedule, labels from real dispatches, promote-if-better."""

from __future__ import annotations

import asyncio
import math
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.client import ScheduleActionExecutionStartWorkflow
from temporalio.testing import WorkflowEnvironment

from domain.messages import StartTicketInput
from domain.triage import DispatchInput, RetrainResult
from store import triage as triage_store
from tests.builders import REQUESTER
from tests.temporal_env import dev_server_env
from tests.triage.fixtures import sample_examples, support, triaged
from tests.workflows.test_triage_workflow import DISPATCHER, TriageStack, triage_stack
from ticketflow.triage_schedule import SCHEDULE_ID, ensure_retrain_schedule, run_retrain_now
from workflows.ticket import TicketWorkflow


@pytest.fixture(scope="module")
async def dev_env() -> AsyncIterator[WorkflowEnvironment]:
    """A real dev server: Schedules need it (the time-skipping server has none)."""
    environment = await dev_server_env()
    try:
        yield environment
    finally:
        await environment.shutdown()


@pytest.fixture
async def stack(dev_env: WorkflowEnvironment, tmp_path: Path) -> AsyncIterator[TriageStack]:
    """A triage stack on the module's dev server."""
    async with triage_stack(dev_env.client, tmp_path) as opened:
        yield opened


async def dispatch_sample(stack: TriageStack) -> None:
    """File every sample ticket (no model: manual triage) and let the dispatcher decide."""

    async def one(i: int) -> None:
        example = examples[i]
        key = f"SUP-{uuid.uuid4().hex[:8]}"
        intake = {"title": example.ticket.title, "description": example.ticket.description}
        handle = await stack.client.start_workflow(
            TicketWorkflow.run,
            StartTicketInput(key=key, definition=support(), intake=intake, requester=REQUESTER),
            id=key,
            task_queue=stack.task_queue,
        )
        await triaged(handle)
        await handle.execute_update(
            TicketWorkflow.dispatch,
            DispatchInput(actor=DISPATCHER, team=example.team, reason="sample"),
        )

    examples = sample_examples()
    await asyncio.gather(*(one(i) for i in range(len(examples))))


async def test_schedule_is_created_once_and_its_run_promotes_a_model(stack: TriageStack) -> None:
    client = stack.client
    assert await ensure_retrain_schedule(client=client, task_queue=stack.task_queue) is True
    assert await ensure_retrain_schedule(client=client, task_queue=stack.task_queue) is False
    schedule = client.get_schedule_handle(SCHEDULE_ID)

    too_early = await run_retrain_now(client=client, task_queue=stack.task_queue)
    assert too_early.trained is False
    assert "need 20" in too_early.detail

    await dispatch_sample(stack)
    async with stack.sessions() as session:
        assert len(await triage_store.labelled_tickets(session=session)) == 48

    await schedule.trigger()
    for _ in range(100):
        recent = (await schedule.describe()).info.recent_actions
        if recent:
            break
        await asyncio.sleep(0.1)
    action = recent[0].action
    assert isinstance(action, ScheduleActionExecutionStartWorkflow)
    started = client.get_workflow_handle(action.workflow_id, result_type=RetrainResult)
    result = await started.result()
    assert (result.trained, result.promoted, result.version) == (True, True, 1)
    assert result.current_accuracy is None

    again = await run_retrain_now(client=client, task_queue=stack.task_queue)
    assert again.version == 2
    assert again.current_accuracy is not None
    assert again.promoted is (
        again.accuracy is not None and again.accuracy > again.current_accuracy
    )
    async with stack.sessions() as session:
        live = await triage_store.get_active_model(session=session)
    assert live is not None
    assert live.version == (2 if again.promoted else 1)
    assert live.training_size == 48 - math.ceil(48 * 0.2)
    await schedule.delete()
