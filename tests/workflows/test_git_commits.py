"""Pushed git commits signalled to TicketWorkflow on the time-skipping server."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable

from sqlalchemy import select
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle

from domain.deliverables import CommitAuthor, GitCommit
from domain.git_commits import GIT_COMMIT_SIGNAL, GitCommitInput
from domain.messages import ClaimInput, CompleteInput, StartTicketInput, TicketResult
from domain.ticket import Actor, TaskStatus, TicketState
from store.models import DeliverableVersionRow, TicketEventRow
from tests.builders import REQUESTER
from tests.domain.processes import process, stage
from tests.workflows.conftest import Stack
from workflows.ticket import GIT_COMMITS_PATCH, TicketWorkflow

DEV = Actor(user="devi", department="desk", role="agent")
SHA = "9f1c2ab" + "0" * 33
COMMIT = GitCommit(
    repository="ops/lb",
    repository_url="https://git.test/ops/lb",
    sha=SHA,
    url=f"https://git.test/ops/lb/commit/{SHA}",
    author=CommitAuthor(name="Devi", email="devi@example.com"),
    message="FLOW-1: restore the health check path",
)
WITH_COMMIT = process(
    stage("fix", deliverables=[{"key": "commit", "kind": "git_commit"}]), stage("check")
)
WITHOUT = process(stage("fix"))


async def started(stack: Stack, definition: object) -> WorkflowHandle[TicketWorkflow, TicketResult]:
    key = f"FLOW-{uuid.uuid4().hex[:6]}"
    return await stack.client.start_workflow(
        TicketWorkflow.run,
        StartTicketInput(key=key, definition=definition, intake={}, requester=REQUESTER),
        id=key,
        task_queue=stack.task_queue,
    )


async def state_once(
    handle: WorkflowHandle[TicketWorkflow, TicketResult], holds: Callable[[TicketState], bool]
) -> TicketState:
    """The ticket's state once `holds` (a signal is handled after it is sent, not during)."""
    for _ in range(200):
        state = await handle.query(TicketWorkflow.state)
        if holds(state):
            return state
        await asyncio.sleep(0.05)
    raise AssertionError("the ticket never reached the expected state")


async def test_a_pushed_commit_is_the_stage_deliverable_and_a_redelivery_adds_nothing(
    stack: Stack,
) -> None:
    handle = await started(stack, WITH_COMMIT)
    await handle.execute_update(TicketWorkflow.claim, ClaimInput(stage_key="fix", actor=DEV))
    pushed = GitCommitInput(commit=COMMIT, signal_id="d-1:" + SHA)
    await handle.signal(GIT_COMMIT_SIGNAL, pushed)
    await handle.signal(GIT_COMMIT_SIGNAL, pushed)  # the git server delivered it again
    state = await state_once(handle, lambda s: s.commit_signals == [pushed.signal_id])
    versions = state.deliverables["fix"]["commit"]
    assert [(v.version, v.value, v.author) for v in versions] == [(1, SHA, "git")]
    assert versions[0].commit == COMMIT

    # The contract holds: the stage completes (its Update comes after both signals).
    await handle.execute_update(TicketWorkflow.complete, CompleteInput(stage_key="fix", actor=DEV))
    state = await handle.query(TicketWorkflow.state)
    assert state.tasks["fix"].status == TaskStatus.DONE
    assert [e.type for e in state.events].count("deliverable_attached") == 1

    async with stack.sessions() as session:
        rows = (await session.scalars(select(DeliverableVersionRow))).all()
    assert [(r.ticket_key, r.stage, r.deliverable, r.version, r.value, r.author) for r in rows] == [
        (handle.id, "fix", "commit", 1, SHA, "git")
    ]
    history = await handle.fetch_history()
    signalled = [
        e
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED
    ]
    assert len(signalled) == 2
    markers = [
        e.marker_recorded_event_attributes.SerializeToString()
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED
    ]
    assert any(GIT_COMMITS_PATCH.encode() in m for m in markers)


async def test_a_commit_no_stage_expects_is_on_the_timeline_only(stack: Stack) -> None:
    handle = await started(stack, WITHOUT)
    await handle.signal(GIT_COMMIT_SIGNAL, GitCommitInput(commit=COMMIT, signal_id="d-2"))
    state = await state_once(handle, lambda s: bool(s.commit_signals))
    assert state.deliverables == {}
    referenced = [e for e in state.events if e.type == "commit_referenced"]
    assert [e.data["sha"] for e in referenced] == [SHA]

    async def projected() -> list[str]:
        async with stack.sessions() as session:
            found = await session.scalars(
                select(TicketEventRow.type).where(TicketEventRow.ticket_key == handle.id)
            )
            return list(found.all())

    for _ in range(200):
        if "commit_referenced" in await projected():
            break
        await asyncio.sleep(0.05)
    assert "commit_referenced" in await projected()
