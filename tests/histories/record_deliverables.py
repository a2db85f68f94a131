"""Record a ticket whose stage holds a deliverable contract: `python -m
tests.histories.record_deliverables`.

The first completion is refused (no capture yet), a text file is refused as the capture, a
capture is attached, the second stage's contract is amended, and both stages complete before
the requester confirms. Same rules as record.py: old histories stay and a patched change
records under a new id; retiring a patch re-records in place with `--force`.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from temporalio.client import WorkflowUpdateFailedError

from domain.deliverables import DeliverableSpec, Submission
from domain.messages import (
    AmendContractInput,
    AttachDeliverableInput,
    ClaimInput,
    CompleteInput,
    ConfirmInput,
    StartTicketInput,
)
from domain.ticket import TicketStatus
from tests.builders import REQUESTER, actor
from tests.dbutil import migrated_sessions, sqlite_url
from tests.domain.processes import process, stage
from tests.histories.record import recorder_arguments, save_history
from tests.temporal_env import time_skipping_env
from workers.tickets import build_ticket_worker
from workflows.ticket import TicketWorkflow

WORKFLOW_ID = "NET-deliverables"
TASK_QUEUE = "tickets-record-deliverables"
DESK = actor("dana", "desk")
PCAP = "application/vnd.tcpdump.pcap"
CAPTURE = {"key": "capture", "kind": "file", "media_types": [PCAP]}
COMMIT = {"key": "commit", "kind": "git_commit"}
DEFINITION = process(
    stage("collect", deliverables=[CAPTURE]),
    stage("fix", depends_on=["collect"], deliverables=[COMMIT]),
)


def _capture(media_type: str) -> Submission:
    return Submission(sha256="cd" * 32, size=84, media_type=media_type, file_name="uplink.pcap")


async def record_deliverables(*, workflow_id: str, data_dir: Path) -> str:
    """Run the ticket from creation to close and return its history as JSON."""
    env = await time_skipping_env()
    try:
        async with (
            migrated_sessions(sqlite_url(data_dir)) as sessions,
            build_ticket_worker(client=env.client, task_queue=TASK_QUEUE, sessions=sessions),
        ):
            handle = await env.client.start_workflow(
                TicketWorkflow.run,
                StartTicketInput(
                    key=workflow_id, definition=DEFINITION, intake={}, requester=REQUESTER
                ),
                id=workflow_id,
                task_queue=TASK_QUEUE,
            )
            await handle.execute_update(
                TicketWorkflow.claim, ClaimInput(stage_key="collect", actor=DESK)
            )
            complete = CompleteInput(stage_key="collect", actor=DESK)
            attach = AttachDeliverableInput(
                stage_key="collect", deliverable="capture", actor=DESK, submission=_capture(PCAP)
            )
            wrong = attach.model_copy(update={"submission": _capture("text/plain")})
            for refused, update in ((complete, "complete"), (wrong, "attach_deliverable")):
                try:
                    await handle.execute_update(update, refused)
                except WorkflowUpdateFailedError:
                    pass
                else:
                    raise RuntimeError(f"the {update} Update was not refused")
            await handle.execute_update(TicketWorkflow.attach_deliverable, attach)
            await handle.execute_update(TicketWorkflow.complete, complete)
            optional = DeliverableSpec(key="commit", kind="git_commit", required=False)
            await handle.execute_update(
                TicketWorkflow.amend_contract,
                AmendContractInput(
                    stage_key="fix", actor=DESK, deliverables=[optional], reason="config only"
                ),
            )
            await handle.execute_update(
                TicketWorkflow.claim, ClaimInput(stage_key="fix", actor=DESK)
            )
            await handle.execute_update(
                TicketWorkflow.complete, CompleteInput(stage_key="fix", actor=DESK)
            )
            await handle.execute_update(
                TicketWorkflow.confirm, ConfirmInput(actor=REQUESTER, comment="ok")
            )
            result = await handle.result()
            if result.status != TicketStatus.CLOSED:
                raise RuntimeError(f"the ticket ended {result.status.value}, not closed")
            return (await handle.fetch_history()).to_json()
    finally:
        await env.shutdown()


if __name__ == "__main__":
    arguments = recorder_arguments(
        "python -m tests.histories.record_deliverables", __doc__, WORKFLOW_ID
    )
    args = arguments.parse_args()

    async def _record(workflow_id: str, scratch: Path) -> str:
        return await record_deliverables(workflow_id=workflow_id, data_dir=scratch)

    raise SystemExit(asyncio.run(save_history(_record, args.workflow_id, force=args.force)))
