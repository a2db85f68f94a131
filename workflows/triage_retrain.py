"""TriageRetrainWorkflow: train on the labelled history and promote only a better model."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from domain.triage import RETRAIN_WORKFLOW, TRAIN_ACTIVITY, RetrainInput, RetrainResult

# Training on a large history takes minutes on two cores; past this the attempt is lost.
TRAIN_TIMEOUT = timedelta(minutes=30)
# A crashed worker is worth one more try; a second failure waits for the next schedule run.
TRAIN_RETRY = RetryPolicy(initial_interval=timedelta(seconds=30), maximum_attempts=2)


@workflow.defn(name=RETRAIN_WORKFLOW)
class TriageRetrainWorkflow:
    """One retraining run; the Temporal Schedule starts one per interval."""

    @workflow.run
    async def run(self, request: RetrainInput) -> RetrainResult:
        """Run the training activity and return what it decided."""
        result: RetrainResult = await workflow.execute_activity(
            TRAIN_ACTIVITY,
            request,
            result_type=RetrainResult,
            start_to_close_timeout=TRAIN_TIMEOUT,
            retry_policy=TRAIN_RETRY,
        )
        return result
