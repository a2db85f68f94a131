"""The Temporal Schedule that retrains the triage model; created idempotently at worker start."""

from __future__ import annotations

from collections.abc import Callable
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
    ScheduleUpdate,
    ScheduleUpdateInput,
)

from domain.triage import RETRAIN_WORKFLOW, RetrainInput, RetrainResult

SCHEDULE_ID = "triage-retrain"
RETRAIN_EVERY = timedelta(days=1)


async def ensure_retrain_schedule(
    *, client: Client, task_queue: str, every: timedelta = RETRAIN_EVERY
) -> bool:
    """Create the retraining schedule, or point an existing one at `task_queue`; True if created."""
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
        # A schedule created before retraining had its own queue would start runs no worker
        # serves any more.
        await client.get_schedule_handle(SCHEDULE_ID).update(_retarget(task_queue))
        return False
    return True


def _retarget(task_queue: str) -> Callable[[ScheduleUpdateInput], ScheduleUpdate | None]:
    def update(current: ScheduleUpdateInput) -> ScheduleUpdate | None:
        schedule = current.description.schedule
        action = schedule.action
        if not isinstance(action, ScheduleActionStartWorkflow) or action.task_queue == task_queue:
            return None
        action.task_queue = task_queue
        return ScheduleUpdate(schedule=schedule)

    return update


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
