"""The Temporal Schedule of the recurrence sweep; created idempotently at ticket-worker start."""

from __future__ import annotations

from datetime import timedelta

from temporalio.client import Client

from domain.recurrence import RECURRENCE_SWEEP_WORKFLOW, SWEEP_EVERY, SweepInput
from services.schedules import ensure_schedule

SCHEDULE_ID = "recurrence-sweep"


async def ensure_sweep_schedule(
    *, client: Client, task_queue: str, every: timedelta = SWEEP_EVERY
) -> bool:
    """Create the hourly sweep's schedule, or point it at `task_queue`; True if created.

    On the tickets' queue: its writes share the ticket worker's SQLite writer queue.
    """
    return await ensure_schedule(
        client=client,
        schedule_id=SCHEDULE_ID,
        workflow=RECURRENCE_SWEEP_WORKFLOW,
        argument=SweepInput(),
        task_queue=task_queue,
        every=every,
    )
