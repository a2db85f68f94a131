"""A minimal workflow that runs one action as TicketWorkflow's service stages will: by its name."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel
from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from domain.actions import ActionInput, ActionOutput, action_activity


class Probe(BaseModel):
    """The call, the queue of the worker serving actions, the stage's timeout and attempts."""

    call: ActionInput
    task_queue: str
    timeout: timedelta = timedelta(seconds=10)
    attempts: int = 1


@workflow.defn(name="ActionProbe")
class ActionProbe:
    """Runs `probe.call` as the activity `action.<name>` and returns its output."""

    @workflow.run
    async def run(self, probe: Probe) -> ActionOutput:
        """The action's output; its failure (after the retries) fails this workflow."""
        return await workflow.execute_activity(
            action_activity(probe.call.action),
            probe.call,
            result_type=ActionOutput,
            task_queue=probe.task_queue,
            start_to_close_timeout=probe.timeout,
            retry_policy=RetryPolicy(
                maximum_attempts=probe.attempts,
                initial_interval=timedelta(seconds=1),
                backoff_coefficient=2.0,
            ),
        )
