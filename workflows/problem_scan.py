"""ProblemScanWorkflow: one scan for co-occurring symptoms; a Temporal Schedule starts it."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from domain.problem_candidates import (
        PROBLEM_SCAN_WORKFLOW,
        SCAN_PROBLEMS_ACTIVITY,
        ProblemScanInput,
        ProblemScanResult,
    )

# A week of tickets pairs in seconds; a scan that takes this long has a bigger problem.
SCAN_TIMEOUT = timedelta(minutes=10)
# A lost worker or a busy database is worth two more tries before the next scheduled scan.
SCAN_RETRY = RetryPolicy(initial_interval=timedelta(seconds=10), maximum_attempts=3)


@workflow.defn(name=PROBLEM_SCAN_WORKFLOW)
class ProblemScanWorkflow:
    """One scan run."""

    @workflow.run
    async def run(self, request: ProblemScanInput) -> ProblemScanResult:
        """Run the scan activity and return what it found."""
        result: ProblemScanResult = await workflow.execute_activity(
            SCAN_PROBLEMS_ACTIVITY,
            request,
            result_type=ProblemScanResult,
            start_to_close_timeout=SCAN_TIMEOUT,
            retry_policy=SCAN_RETRY,
        )
        return result
