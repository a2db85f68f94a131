"""Retraining on the dev server: its own queue and worker, the Schedule, promote-if-better."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import (
    Client,
    ScheduleActionExecutionStartWorkflow,
    ScheduleActionStartWorkflow,
    WorkflowHandle,
)
from temporalio.testing import WorkflowEnvironment

from domain.messages import StartTicketInput
from domain.triage import RETRAIN_WORKFLOW, DispatchInput, RetrainInput, RetrainResult
from services.triage_schedule import SCHEDULE_ID, ensure_retrain_schedule, run_retrain_now
from store import triage as triage_store
from tests.builders import REQUESTER
from tests.dbutil import migrated_sessions, sqlite_url
from tests.triage.fixtures import sample_examples, support, triaged
from tests.workflows.test_triage_workflow import DISPATCHER, TriageStack, triage_stack
from ticketflow.settings import Settings
from workers.training import build_training_worker
from workflows.ticket import TicketWorkflow

# Bounds waits on real workers, so a broken one fails the test instead of hanging it.
WAIT_BOUND = 120


@pytest.fixture
async def stack(dev_env: WorkflowEnvironment, tmp_path: Path) -> AsyncIterator[TriageStack]:
    """A triage stack (the ticket worker) on the module's dev server."""
    async with triage_stack(dev_env.client, tmp_path) as opened:
        yield opened


@pytest.fixture
async def training_queue(stack: TriageStack) -> AsyncIterator[str]:
    """A training worker on its own queue, sharing the stack's store and model artifacts."""
    queue = f"training-{uuid.uuid4().hex[:8]}"
    async with build_training_worker(
        client=stack.client, task_queue=queue, sessions=stack.sessions, data_dir=stack.data_dir
    ):
        yield queue


async def schedule_queue(client: Client) -> str:
    """The task queue the retraining Schedule starts its runs on."""
    action = (await client.get_schedule_handle(SCHEDULE_ID).describe()).schedule.action
    assert isinstance(action, ScheduleActionStartWorkflow)
    return action.task_queue


async def first_task_failure(handle: WorkflowHandle[object, RetrainResult]) -> str:
    """The message of the first failed workflow task in this run's history, or its completion."""
    while True:
        async for event in handle.fetch_history_events():
            if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED:
                return event.workflow_task_failed_event_attributes.failure.message
            if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
                return "the run completed"
        await asyncio.sleep(0.1)


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


async def test_the_ticket_worker_does_not_retrain(stack: TriageStack) -> None:
    handle = await stack.client.start_workflow(
        RETRAIN_WORKFLOW,
        RetrainInput(),
        id=f"retrain-{uuid.uuid4().hex[:8]}",
        task_queue=stack.task_queue,
        result_type=RetrainResult,
    )
    failure = await asyncio.wait_for(first_task_failure(handle), WAIT_BOUND)
    if failure != "the run completed":
        await handle.terminate("test over")
    assert RETRAIN_WORKFLOW in failure
    assert "not registered" in failure


async def test_an_older_schedule_is_moved_to_the_training_queue(
    stack: TriageStack, training_queue: str
) -> None:
    client = stack.client
    assert await ensure_retrain_schedule(client=client, task_queue=stack.task_queue) is True
    try:
        assert await ensure_retrain_schedule(client=client, task_queue=training_queue) is False
        assert await schedule_queue(client) == training_queue
    finally:
        await client.get_schedule_handle(SCHEDULE_ID).delete()


async def test_schedule_is_created_once_and_its_run_promotes_a_model(
    stack: TriageStack, training_queue: str
) -> None:
    client = stack.client
    assert await ensure_retrain_schedule(client=client, task_queue=training_queue) is True
    assert await ensure_retrain_schedule(client=client, task_queue=training_queue) is False
    assert await schedule_queue(client) == training_queue
    schedule = client.get_schedule_handle(SCHEDULE_ID)

    too_early = await run_retrain_now(client=client, task_queue=training_queue)
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
    assert (await started.describe()).task_queue == training_queue

    again = await run_retrain_now(client=client, task_queue=training_queue)
    assert again.version == 2
    assert again.current_accuracy is not None
    assert again.promoted is (
        again.accuracy is not None and again.accuracy > again.current_accuracy
    )
    async with stack.sessions() as session:
        live = await triage_store.get_active_model(session=session)
    assert live is not None
    assert live.version == (2 if again.promoted else 1)
    # The live model learnt from every label: no hold-out is left out of it.
    assert live.training_size == 48
    assert live.metrics["selection"]["winner"] == again.candidate or not again.promoted
    await schedule.delete()


async def test_the_training_worker_command_serves_the_training_queue(
    dev_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    client = dev_env.client
    url = sqlite_url(tmp_path)
    async with migrated_sessions(url):
        pass
    environ = {
        **os.environ,
        "TICKETFLOW_TEMPORAL_ADDRESS": client.service_client.config.target_host,
        "TICKETFLOW_TEMPORAL_NAMESPACE": client.namespace,
        "TICKETFLOW_DATABASE_URL": url,
        "TICKETFLOW_DATA_DIR": str(tmp_path),
    }
    queue = Settings().training_task_queue
    with (tmp_path / "worker.log").open("wb") as log:
        worker = await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "ticketflow", "worker", "--task-queue", queue),
            env=environ,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        result = await asyncio.wait_for(
            run_retrain_now(client=client, task_queue=queue), WAIT_BOUND
        )
        assert "need 20" in result.detail
        # The training worker created the Schedule at start, on its own queue.
        assert await schedule_queue(client) == queue
    finally:
        worker.terminate()
        await asyncio.wait_for(worker.wait(), WAIT_BOUND)
        await client.get_schedule_handle(SCHEDULE_ID).delete()
