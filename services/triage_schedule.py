"""The Temporal Schedule that retrains the triage model; created idempotently at worker start."""

from __future__ import annotations

from datetime import timedelta

from temporalio.client import Client

from domain.triage import RETRAIN_WORKFLOW, RetrainInput, RetrainResult
from services.schedules import ensure_schedule

SCHEDULE_ID = "triage-retrain"
RETRAIN_EVERY = timedelta(days=1)


async def ensure_retrain_schedule(
    *, client: Client, task_queue: str, every: timedelta = RETRAIN_EVERY
) -> bool:
    """Create the retraining schedule, or point an existing one at `task_queue`; True if created."""
    return await ensure_schedule(
        client=client,
        schedule_id=SCHEDULE_ID,
        workflow=RETRAIN_WORKFLOW,
        argument=RetrainInput(),
        task_queue=task_queue,
        every=every,
    )


async def run_retrain_now(*, client: Client, task_queue: str) -> RetrainResult:
    """Run one retraining at once and wait for its result."""
    result: RetrainResult = await client.execute_workflow(
        RETRAIN_WORKFLOW,
        RetrainInput(),
        id="triage-retrain-manual",
        task_queue=task_queue,
        result_type=RetrainResult,
    )
    return result
