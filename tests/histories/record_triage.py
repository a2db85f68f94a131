"""Record a triage-path ticket life: `python -m tests.histories.record_triage`.

The ticket's definition has a triage block and no model is trained, so the triage activity
answers "no model", the dispatcher decides with the `dispatch` Update, a repeat report
arrives as a signal, and the team works the ticket to closed. Same rules as record.py: old
histories stay and a patched change records under a new id; retiring a patch re-records in
place with `--force`.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from domain.messages import ClaimInput, CompleteInput, ConfirmInput, StartTicketInput
from domain.ticket import TicketStatus
from domain.triage import DispatchInput, DuplicateReportInput
from tests.builders import REQUESTER, actor
from tests.dbutil import migrated_sessions, sqlite_url
from tests.histories.record import recorder_arguments, save_history
from tests.temporal_env import time_skipping_env
from tests.triage.fixtures import support, triaged
from workers.tickets import build_ticket_worker
from workflows.ticket import TicketWorkflow

WORKFLOW_ID = "SUP-triage-life"
TASK_QUEUE = "tickets-record-triage"
DISPATCHER = actor("dora", "dispatch")
NETWORK = actor("nick", "network")


async def record_triage_life(*, workflow_id: str, data_dir: Path) -> str:
    """Run one triage-enabled ticket from creation to close and return its history as JSON."""
    env = await time_skipping_env()
    try:
        async with (
            migrated_sessions(sqlite_url(data_dir)) as sessions,
            build_ticket_worker(
                client=env.client, task_queue=TASK_QUEUE, sessions=sessions, data_dir=data_dir
            ),
        ):
            handle = await env.client.start_workflow(
                TicketWorkflow.run,
                StartTicketInput(
                    key=workflow_id,
                    definition=support(),
                    intake={"title": "VPN drops", "description": "every few minutes"},
                    requester=REQUESTER,
                ),
                id=workflow_id,
                task_queue=TASK_QUEUE,
            )
            await triaged(handle)
            await handle.execute_update(
                TicketWorkflow.dispatch,
                DispatchInput(actor=DISPATCHER, team="network", priority="P2", reason="vpn"),
            )
            await handle.signal(
                TicketWorkflow.duplicate_report,
                DuplicateReportInput(requester="sam", title="VPN down", similarity=0.9),
            )
            for stage, who in (("handle", NETWORK), ("verify", DISPATCHER)):
                await handle.execute_update(
                    TicketWorkflow.claim, ClaimInput(stage_key=stage, actor=who)
                )
                await handle.execute_update(
                    TicketWorkflow.complete, CompleteInput(stage_key=stage, actor=who)
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
    arguments = recorder_arguments("python -m tests.histories.record_triage", __doc__, WORKFLOW_ID)
    args = arguments.parse_args()

    async def _record(workflow_id: str, scratch: Path) -> str:
        return await record_triage_life(workflow_id=workflow_id, data_dir=scratch)

    raise SystemExit(asyncio.run(save_history(_record, args.workflow_id, force=args.force)))
