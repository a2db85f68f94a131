"""What one ticket's life costs in Temporal history, read from the history itself.

Deterministic, unlike a rate: the time-skipping test server and an in-process worker run two
lives to closed through the Temporal client, then each history is counted (workflow tasks,
events, regular and local activities, markers):

* `bench`: the throughput bench's ticket (bench/throughput.py: two stages, no SLA): created
  with the `opened` Update, claim + complete a, claim + complete b, confirm, all Updates.
* `sla`: a one-stage ticket whose 2 s SLA fires two notifying rungs and breaches before the
  claim (transitions nobody waits on), then claim + complete + confirm.

Run from the repository root (any tree, to compare commits):

    .venv/bin/python bench/history_shape.py
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import uuid
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

# This directory goes last: its scripts' names (forms.py) would shadow the project's packages.
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE] + [str(HERE)]

from temporalio.api.enums.v1 import EventType  # noqa: E402
from temporalio.client import WithStartWorkflowOperation  # noqa: E402
from temporalio.common import WorkflowIDConflictPolicy  # noqa: E402
from temporalio.testing import WorkflowEnvironment  # noqa: E402
from throughput import DEFINITION as BENCH_DEFINITION  # noqa: E402

from domain.definitions import ProcessDefinition  # noqa: E402
from domain.messages import (  # noqa: E402
    ClaimInput,
    CompleteInput,
    ConfirmInput,
    StartTicketInput,
)
from domain.ticket import Actor  # noqa: E402
from tests.dbutil import migrated_sessions, sqlite_url  # noqa: E402
from tests.temporal_env import time_skipping_env  # noqa: E402
from workers.tickets import build_ticket_worker  # noqa: E402
from workflows.ticket import TicketWorkflow  # noqa: E402

REQUESTER = Actor(user="rita", department="sales", role="requester")
AGENT = Actor(user="dana", department="bench-desk", role="agent")
SLA_DEFINITION: dict[str, Any] = {
    **BENCH_DEFINITION,
    "key": "bench-sla",
    "stages": [
        {
            "key": "a",
            "title": "Stage a",
            "group": "bench-desk",
            "sla": {
                "target": "PT2S",
                "ladder": [
                    {
                        "name": "half",
                        "at_fraction": 0.5,
                        "actions": [{"type": "notify", "recipients": ["group:bench-desk"]}],
                    },
                    {
                        "name": "due",
                        "at_fraction": 1.0,
                        "actions": [{"type": "notify", "recipients": ["requester"]}],
                    },
                ],
            },
        }
    ],
}
COUNTED = {
    EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED: "workflow tasks",
    EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED: "regular activities",
    EventType.EVENT_TYPE_MARKER_RECORDED: "markers (local activities, patches)",
}


async def life(
    env: WorkflowEnvironment, queue: str, definition: dict[str, Any], *, fire: bool
) -> Counter[str]:
    """Drive one ticket to closed (after its SLA ladder fired, with `fire`); its history."""
    client = env.client
    key = f"SHAPE-{uuid.uuid4().hex[:6]}"
    snapshot = ProcessDefinition.model_validate({**definition, "version": 1})
    operation = WithStartWorkflowOperation(
        TicketWorkflow.run,
        StartTicketInput(key=key, definition=snapshot, intake={"title": "x"}, requester=REQUESTER),
        id=key,
        task_queue=queue,
        id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
    )
    await client.execute_update_with_start_workflow(
        TicketWorkflow.opened, start_workflow_operation=operation, id=f"{key}:opened"
    )
    handle = await operation.workflow_handle()
    if fire:
        # Past the target: both rungs fire and the clock breaches before anyone claims.
        await env.sleep(timedelta(seconds=5))
    for stage in [s["key"] for s in definition["stages"]]:
        await handle.execute_update(TicketWorkflow.claim, ClaimInput(stage_key=stage, actor=AGENT))
        await handle.execute_update(
            TicketWorkflow.complete, CompleteInput(stage_key=stage, actor=AGENT, data={})
        )
    await handle.execute_update(TicketWorkflow.confirm, ConfirmInput(actor=REQUESTER))
    await handle.result()
    counts: Counter[str] = Counter()
    for event in (await handle.fetch_history()).events:
        counts["events"] += 1
        if event.event_type in COUNTED:
            counts[COUNTED[event.event_type]] += 1
    state = await handle.query(TicketWorkflow.state)
    counts["ticket events (seqs)"] = state.last_seq
    return counts


async def main() -> None:
    """Print each life's history counts."""
    env = await time_skipping_env()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            queue = f"shape-{uuid.uuid4().hex[:8]}"
            async with (
                migrated_sessions(sqlite_url(Path(tmp))) as sessions,
                build_ticket_worker(client=env.client, task_queue=queue, sessions=sessions),
            ):
                bench = await life(env, queue, BENCH_DEFINITION, fire=False)
                sla = await life(env, queue, SLA_DEFINITION, fire=True)
    finally:
        await env.shutdown()
    names = sorted({*bench, *sla})
    print(f"{'per ticket':40} {'bench':>6} {'sla':>6}")
    for name in names:
        print(f"{name:40} {bench[name]:>6} {sla[name]:>6}")


if __name__ == "__main__":
    asyncio.run(main())
