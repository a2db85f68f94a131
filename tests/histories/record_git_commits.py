"""Record a ticket that takes a pushed git commit as a stage's deliverable: `python -m
tests.histories.record_git_commits`.

A commit is signalled to the ticket while its `fix` stage expects one, then redelivered
(nothing changes); the stage completes on it; a second commit, which no open stage expects,
is only recorded; the last stage completes and the requester confirms. Same rules as
record.py: old histories stay and a patched change records under a new id.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from domain.deliverables import CommitAuthor, GitCommit
from domain.git_commits import GIT_COMMIT_SIGNAL, GitCommitInput
from domain.messages import ClaimInput, CompleteInput, ConfirmInput, StartTicketInput
from domain.ticket import TicketState, TicketStatus
from tests.builders import REQUESTER, actor
from tests.dbutil import migrated_sessions, sqlite_url
from tests.domain.processes import process, stage
from tests.histories.record import recorder_arguments, save_history
from tests.temporal_env import time_skipping_env
from workers.tickets import build_ticket_worker
from workflows.ticket import TicketWorkflow

WORKFLOW_ID = "NET-git-commits"
TASK_QUEUE = "tickets-record-git-commits"
DEV = actor("devi", "desk")
DEFINITION = process(
    stage("fix", deliverables=[{"key": "commit", "kind": "git_commit"}]),
    stage("check", depends_on=["fix"]),
)


def _commit(sha: str) -> GitCommit:
    return GitCommit(
        repository="net/uplink",
        repository_url="https://git.example.com/net/uplink",
        sha=sha,
        url=f"https://git.example.com/net/uplink/commit/{sha}",
        author=CommitAuthor(name="Devi", email="devi@example.com"),
        message=f"{WORKFLOW_ID}: pin the uplink MTU",
    )


async def record_git_commits(*, workflow_id: str, data_dir: Path) -> str:
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

            async def handled(count: int) -> None:
                for _ in range(400):
                    state: TicketState = await handle.query(TicketWorkflow.state)
                    if len(state.commit_signals) == count:
                        return
                    await asyncio.sleep(0.05)
                raise RuntimeError(f"the ticket did not handle {count} commit signal(s)")

            await handle.execute_update(
                TicketWorkflow.claim, ClaimInput(stage_key="fix", actor=DEV)
            )
            first = GitCommitInput(commit=_commit("a1" * 20), signal_id="delivery-1")
            await handle.signal(GIT_COMMIT_SIGNAL, first)
            await handle.signal(GIT_COMMIT_SIGNAL, first)
            await handled(1)
            await handle.execute_update(
                TicketWorkflow.complete, CompleteInput(stage_key="fix", actor=DEV)
            )
            second = GitCommitInput(commit=_commit("b2" * 20), signal_id="delivery-2")
            await handle.signal(GIT_COMMIT_SIGNAL, second)
            await handled(2)
            await handle.execute_update(
                TicketWorkflow.claim, ClaimInput(stage_key="check", actor=DEV)
            )
            await handle.execute_update(
                TicketWorkflow.complete, CompleteInput(stage_key="check", actor=DEV)
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
        "python -m tests.histories.record_git_commits", __doc__, WORKFLOW_ID
    )
    args = arguments.parse_args()

    async def _record(workflow_id: str, scratch: Path) -> str:
        return await record_git_commits(workflow_id=workflow_id, data_dir=scratch)

    raise SystemExit(asyncio.run(save_history(_record, args.workflow_id, force=args.force)))
