"""The Temporal Schedule that retrains the triage model; created idempotently at worker start."""

from __future__ import annotations

from datetime import timedelta

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
)

from domain.triage import RETRAIN_WORKFLOW, RetrainInput, RetrainResult

SCHEDULE_ID = "triage-retrain"
RETRAIN_EVERY = timedelta(days=1)


async def ensure_retrain_schedule(
    *, client: Client, task_queue: str, every: timedelta = RETRAIN_EVERY
) -> bool:
    """Create the retraining schedule unless it exists; True when this call created it."""
    try:
        await client.create_schedule(
            SCHEDULE_ID,
            Schedule(
                action=ScheduleActionStartWorkflow(
                    RETRAIN_WORKFLOW,
                    RetrainInput(),
                    id="triage-retrain-run",
                    task_queue=task_queue,
                ),
                spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=every)]),
                # A retraining still running when the next is due makes the next one pointless.
                policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
            ),
        )
    except ScheduleAlreadyRunningError:
        return False
    return True


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
