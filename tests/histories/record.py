"""Record a full ticket life as a replayable history: `python -m tests.histories.record`.

The run uses the time-skipping test server and the real projection into a throwaway SQLite
file, and writes `tests/histories/<workflow id>.json` (WorkflowHistory.to_json()), which
tests/workflows/test_replay.py replays against the current TicketWorkflow.

A deliberate workflow change goes behind `workflow.patched()` and is recorded under a new
name (`--workflow-id`): the old histories stay, because replaying them is what proves that
tickets started under the old code still run on the new one. A history that stops replaying
after an unpatched change is a non-determinism bug to fix, never a file to refresh.

A patch is retired once no ticket started before it still runs: first `deprecate_patch` with
only the new code, then no call at all. The histories of its old branch are then deleted and
each scenario is re-recorded in place with `--force`, keeping one history per scenario (this
full life, `--sla` for the SLA ladder, record_triage.py for the triage life) besides those a
live patch still needs.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

from temporalio.client import WithStartWorkflowOperation, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.testing import WorkflowEnvironment

from domain.definitions import ProcessDefinition
from domain.messages import (
    ClaimInput,
    CommentInput,
    CompleteInput,
    ConfirmInput,
    ExternalEventInput,
    PauseInput,
    ReassignInput,
    ReopenInput,
    ResumeInput,
    SetPriorityInput,
    StartTicketInput,
    TicketResult,
)
from domain.sla import SlaPolicy
from domain.ticket import Actor, TicketStatus
from tests.builders import DESK, DEV, OPS, REQUESTER, STAGE_DATA, actor, incident
from tests.dbutil import migrated_sessions, sqlite_url
from tests.temporal_env import time_skipping_env
from workers.tickets import build_ticket_worker
from workflows.ticket import TicketWorkflow

HISTORY_DIR = Path(__file__).parent
WORKFLOW_ID = "INC-full-life"
SLA_WORKFLOW_ID = "INC-sla-ladder"
LADDER = [
    {
        "name": "half",
        "at_fraction": 0.5,
        "actions": [{"type": "notify", "recipients": ["assignee"]}],
    },
    {
        "name": "due",
        "at_fraction": 1.0,
        "actions": [
            {"type": "notify", "recipients": ["role:manager", "requester"]},
            {"type": "escalate", "group": "cto-office"},
            {"type": "raise_priority"},
        ],
    },
    {"name": "late", "at_fraction": 1.5, "actions": [{"type": "reassign", "group": "ops-l2"}]},
]
TASK_QUEUE = "tickets-record"
DEV_STANDBY = actor("dave", "dev")
CTO = actor("cora", "cto-office")

Handle = WorkflowHandle[TicketWorkflow, TicketResult]


async def _claim(handle: Handle, stage: str, who: Actor) -> None:
    await handle.execute_update(TicketWorkflow.claim, ClaimInput(stage_key=stage, actor=who))


async def _complete(handle: Handle, stage: str, who: Actor) -> None:
    await handle.execute_update(
        TicketWorkflow.complete, CompleteInput(stage_key=stage, actor=who, data=STAGE_DATA[stage])
    )


async def _live_a_full_life(handle: Handle) -> TicketResult:
    # A claim before its stage is ready: the validator rejects it, so no Update is accepted.
    try:
        await _claim(handle, "fix", DEV)
    except WorkflowUpdateFailedError:
        pass
    else:
        raise RuntimeError("claiming a stage that is not ready was accepted")

    await _claim(handle, "triage", DESK)
    await _complete(handle, "triage", DESK)
    # diagnose and fix are independent stages: their Updates run concurrently.
    await asyncio.gather(_claim(handle, "diagnose", OPS), _claim(handle, "fix", DEV))
    await handle.execute_update(
        TicketWorkflow.reassign,
        ReassignInput(stage_key="fix", actor=DEV, to_user=DEV_STANDBY.user, reason="on call"),
    )
    await handle.signal(
        TicketWorkflow.external_event,
        ExternalEventInput(name="device_alarm", source="iot-gw-3", payload={"port": 12}),
    )
    await handle.execute_update(
        TicketWorkflow.comment, CommentInput(actor=OPS, body="port 12 flaps", internal=True)
    )
    await asyncio.gather(_complete(handle, "diagnose", OPS), _complete(handle, "fix", DEV_STANDBY))
    await _claim(handle, "verify", DESK)
    await _complete(handle, "verify", DESK)

    await handle.execute_update(
        TicketWorkflow.reopen, ReopenInput(actor=REQUESTER, reason="drops again at night")
    )
    await _claim(handle, "verify", DESK)
    await _complete(handle, "verify", DESK)
    await handle.execute_update(TicketWorkflow.confirm, ConfirmInput(actor=REQUESTER, comment="ok"))
    return await handle.result()


def sla_incident() -> ProcessDefinition:
    """The incident with a joint clock (priority targets, pausing), a 3-rung ladder on fix."""
    definition = incident()
    definition.sla = SlaPolicy.model_validate(
        {"targets": {"P1": "PT4H", "P2": "PT8H"}, "target": "PT24H", "pause_when": ["customer"]}
    )
    definition.stage("fix").sla = SlaPolicy.model_validate({"target": "PT2H", "ladder": LADDER})
    definition.stage("fix").milestone = True
    return definition


async def _live_an_sla_ladder(env: WorkflowEnvironment, handle: Handle) -> TicketResult:
    await _claim(handle, "triage", DESK)
    await _complete(handle, "triage", DESK)
    await _claim(handle, "diagnose", OPS)
    await handle.execute_update(
        TicketWorkflow.pause, PauseInput(actor=OPS, reason="customer", note="need a trace")
    )
    await env.sleep(timedelta(hours=1))
    await handle.execute_update(TicketWorkflow.resume, ResumeInput(actor=OPS))
    await handle.execute_update(
        TicketWorkflow.set_priority, SetPriorityInput(actor=DESK, priority="P1", reason="outage")
    )
    await _complete(handle, "diagnose", OPS)
    # Nobody works on fix: all three rungs fire (the 100% rung escalates and raises priority).
    await env.sleep(timedelta(hours=4))
    await _claim(handle, "fix", actor("ola", "ops-l2"))
    await handle.execute_update(
        TicketWorkflow.complete,
        CompleteInput(stage_key="fix", actor=actor("ola", "ops-l2"), data=STAGE_DATA["fix"]),
    )
    await _claim(handle, "esc-fix-1-1", CTO)
    await handle.execute_update(
        TicketWorkflow.complete, CompleteInput(stage_key="esc-fix-1-1", actor=CTO, data={})
    )
    await _claim(handle, "verify", DESK)
    await _complete(handle, "verify", DESK)
    await handle.execute_update(TicketWorkflow.confirm, ConfirmInput(actor=REQUESTER, comment="ok"))
    return await handle.result()


async def record_full_life(*, workflow_id: str, database_url: str, sla: bool = False) -> str:
    """Run one incident ticket from creation to close and return its history as JSON.

    With `sla`, the ticket runs SLA clocks whose escalation ladder fires every rung.
    """
    env = await time_skipping_env()
    try:
        async with (
            migrated_sessions(database_url) as sessions,
            build_ticket_worker(client=env.client, task_queue=TASK_QUEUE, sessions=sessions),
        ):
            start = StartTicketInput(
                key=workflow_id,
                definition=sla_incident() if sla else incident(),
                intake={"title": "VPN drops every few minutes"},
                requester=REQUESTER,
                priority="P2",
            )
            # Created the way the API creates tickets: update-with-start of `opened`.
            operation = WithStartWorkflowOperation(
                TicketWorkflow.run,
                start,
                id=workflow_id,
                task_queue=TASK_QUEUE,
                id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            )
            await env.client.execute_update_with_start_workflow(
                TicketWorkflow.opened,
                start_workflow_operation=operation,
                id=f"{workflow_id}:opened",
            )
            handle = await operation.workflow_handle()
            result = await (_live_an_sla_ladder(env, handle) if sla else _live_a_full_life(handle))
            if result.status != TicketStatus.CLOSED:
                raise RuntimeError(f"the ticket ended {result.status.value}, not closed")
            return (await handle.fetch_history()).to_json()
    finally:
        await env.shutdown()


# One recorder: the history of a ticket run under a workflow id, given a scratch directory.
Recorder = Callable[[str, Path], Awaitable[str]]


async def save_history(record: Recorder, workflow_id: str, *, force: bool) -> int:
    """Record a history into HISTORY_DIR; an existing one stays unless `force`."""
    target = HISTORY_DIR / f"{workflow_id}.json"
    if target.exists() and not force:
        sys.stderr.write(f"{target} exists; old histories stay, so record under a new id\n")
        return 1
    with tempfile.TemporaryDirectory() as scratch:
        history = await record(workflow_id, Path(scratch))
    target.write_text(history + "\n")
    sys.stderr.write(f"wrote {target}\n")
    return 0


def recorder_arguments(
    prog: str, description: str | None, default_id: str
) -> argparse.ArgumentParser:
    """The command line every recorder takes: the workflow id and --force."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--workflow-id", default=default_id, help=f"default {default_id}")
    parser.add_argument("--force", action="store_true", help="overwrite an existing history")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Record the full-life history under the given workflow id."""
    parser = recorder_arguments("python -m tests.histories.record", __doc__, WORKFLOW_ID)
    parser.add_argument(
        "--sla",
        action="store_true",
        help=f"the SLA ladder life (e.g. --workflow-id {SLA_WORKFLOW_ID})",
    )
    args = parser.parse_args(argv)

    async def record(workflow_id: str, scratch: Path) -> str:
        return await record_full_life(
            workflow_id=workflow_id, database_url=sqlite_url(scratch), sla=args.sla
        )

    return asyncio.run(save_history(record, args.workflow_id, force=args.force))


if __name__ == "__main__":
    raise SystemExit(main())
