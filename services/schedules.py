"""Temporal Schedules the workers keep: created idempotently at worker start."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from pydantic import BaseModel
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


async def ensure_schedule(
    *,
    client: Client,
    schedule_id: str,
    workflow: str,
    argument: BaseModel,
    task_queue: str,
    every: timedelta,
) -> bool:
    """Create the schedule running `workflow` every `every`, or point it at `task_queue`.

    True if it was created. A run still going when the next is due skips the next one.
    """
    try:
        await client.create_schedule(
            schedule_id,
            Schedule(
                action=ScheduleActionStartWorkflow(
                    workflow, argument, id=f"{schedule_id}-run", task_queue=task_queue
                ),
                spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=every)]),
                policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
            ),
        )
    except ScheduleAlreadyRunningError:
        # A schedule created before its workflow had this queue would start runs no worker
        # serves any more.
        await client.get_schedule_handle(schedule_id).update(_retarget(task_queue))
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
