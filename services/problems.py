"""Problem management: the scan's schedule, a scan on demand, and people's decisions."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client

from domain.problem_candidates import (
    PROBLEM_SCAN_WORKFLOW,
    ProblemScanInput,
    ProblemScanResult,
)
from services.schedules import ensure_schedule
from store.models import ProblemRow
from store.problems import CONFIRMED, DISMISSED, PROPOSED, decide_problem

SCHEDULE_ID = "problem-scan"
SCAN_EVERY = timedelta(hours=1)


class NotProposed(Exception):
    """The problem was decided already."""


async def ensure_problem_schedule(
    *, client: Client, task_queue: str, every: timedelta = SCAN_EVERY
) -> bool:
    """Create the hourly scan's schedule, or point it at `task_queue`; True if created."""
    return await ensure_schedule(
        client=client,
        schedule_id=SCHEDULE_ID,
        workflow=PROBLEM_SCAN_WORKFLOW,
        argument=ProblemScanInput(),
        task_queue=task_queue,
        every=every,
    )


async def scan_problems_now(
    *, client: Client, task_queue: str, request: ProblemScanInput
) -> ProblemScanResult:
    """Run one scan at once and wait for what it found."""
    result: ProblemScanResult = await client.execute_workflow(
        PROBLEM_SCAN_WORKFLOW,
        request,
        id="problem-scan-manual",
        task_queue=task_queue,
        result_type=ProblemScanResult,
    )
    return result


async def decide(
    *,
    session: AsyncSession,
    row: ProblemRow,
    confirm: bool,
    actor: str,
    reason: str,
    now: datetime,
) -> None:
    """Confirm or dismiss a proposed problem; NotProposed when it was decided already."""
    if row.status != PROPOSED:
        raise NotProposed(row.status)
    status = CONFIRMED if confirm else DISMISSED
    await decide_problem(
        session=session, row=row, status=status, actor=actor, reason=reason, now=now
    )
