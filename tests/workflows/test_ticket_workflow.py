"""TicketWorkflow on the real time-skipping server, projecting into a real SQLite file."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from domain.definitions import ProcessDefinition
from domain.messages import (
    CancelInput,
    ClaimInput,
    CommentInput,
    CompleteInput,
    ConfirmInput,
    ExternalEventInput,
    ReassignInput,
    ReopenInput,
    StartTicketInput,
    TicketResult,
    UnclaimInput,
)
from domain.ticket import Actor, TaskStatus, TicketStatus
from store.models import TaskRow, TicketEventRow, TicketRow
from tests.builders import DESK, DEV, OPS, REQUESTER, STAGE_DATA, incident
from tests.workflows.conftest import Stack
from workflows.ticket import TicketWorkflow

Handle = WorkflowHandle[TicketWorkflow, TicketResult]
# What an accepted Update leaves in history; a rejected one must leave none of it.
UPDATE_TRACES = {
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_REJECTED,
    EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED,
}


async def start(stack: Stack, definition: ProcessDefinition | None = None) -> Handle:
    """Start an incident ticket with a unique key."""
    key = f"INC-{uuid.uuid4().hex[:6]}"
    return await stack.client.start_workflow(
        TicketWorkflow.run,
        StartTicketInput(
            key=key,
            definition=definition or incident(),
            intake={"title": "VPN down"},
            requester=REQUESTER,
        ),
        id=key,
        task_queue=stack.task_queue,
    )


async def work(handle: Handle, stage: str, who: Actor) -> None:
    """Claim and complete a stage with valid data."""
    await handle.execute_update(TicketWorkflow.claim, ClaimInput(stage_key=stage, actor=who))
    await handle.execute_update(
        TicketWorkflow.complete, CompleteInput(stage_key=stage, actor=who, data=STAGE_DATA[stage])
    )


async def rejected(handle: Handle, call: object) -> ApplicationError:
    """Run an Update expected to be rejected; return its business error."""
    with pytest.raises(WorkflowUpdateFailedError) as info:
        await call  # type: ignore[misc]
    assert isinstance(info.value.cause, ApplicationError)
    return info.value.cause


async def history_length(handle: Handle) -> int:
    """How many events the workflow history holds."""
    return len((await handle.fetch_history()).events)


async def test_parallel_stages_open_together_and_ticket_resolves_then_closes(stack: Stack) -> None:
    handle = await start(stack)
    state = await handle.query(TicketWorkflow.state)
    assert [t.status for t in state.tasks.values()] == [
        TaskStatus.OPEN,
        TaskStatus.PENDING,
        TaskStatus.PENDING,
        TaskStatus.PENDING,
    ]

    await work(handle, "triage", DESK)
    state = await handle.query(TicketWorkflow.state)
    assert state.tasks["diagnose"].status == state.tasks["fix"].status == TaskStatus.OPEN
    assert state.tasks["verify"].status == TaskStatus.PENDING

    await work(handle, "fix", DEV)
    await work(handle, "diagnose", OPS)
    await work(handle, "verify", DESK)
    assert (await handle.query(TicketWorkflow.state)).status == TicketStatus.RESOLVED

    await handle.execute_update(TicketWorkflow.confirm, ConfirmInput(actor=REQUESTER, comment="ok"))
    result = await handle.result()
    assert result.status == TicketStatus.CLOSED

    async with stack.sessions() as session:
        ticket = await session.get(TicketRow, handle.id)
        assert ticket is not None
        assert ticket.status == "closed"
        assert ticket.last_seq == result.last_seq
        seqs = (
            await session.scalars(
                select(TicketEventRow.seq)
                .where(TicketEventRow.ticket_key == handle.id)
                .order_by(TicketEventRow.seq)
            )
        ).all()
        assert list(seqs) == list(range(1, result.last_seq + 1))
        tasks = (
            await session.scalars(select(TaskRow).where(TaskRow.ticket_key == handle.id))
        ).all()
        assert {t.stage_key: (t.status, t.completed_by) for t in tasks} == {
            "triage": ("done", "dana"),
            "diagnose": ("done", "otto"),
            "fix": ("done", "devi"),
            "verify": ("done", "dana"),
        }


async def test_rejected_updates_write_nothing_to_history(stack: Stack) -> None:
    handle = await start(stack)
    await handle.execute_update(TicketWorkflow.claim, ClaimInput(stage_key="triage", actor=DESK))
    before = await history_length(handle)

    wrong_group = await rejected(
        handle,
        handle.execute_update(TicketWorkflow.claim, ClaimInput(stage_key="triage", actor=OPS)),
    )
    assert wrong_group.type == "TicketForbidden"
    taken = await rejected(
        handle,
        handle.execute_update(
            TicketWorkflow.claim,
            ClaimInput(
                stage_key="triage",
                actor=Actor(user="dora", department="service-desk", role="agent"),
            ),
        ),
    )
    assert taken.type == "TicketConflict"
    assert "claimed by dana" in taken.message
    not_ready = await rejected(
        handle, handle.execute_update(TicketWorkflow.claim, ClaimInput(stage_key="fix", actor=DEV))
    )
    assert not_ready.type == "TicketConflict"
    unknown = await rejected(
        handle,
        handle.execute_update(TicketWorkflow.claim, ClaimInput(stage_key="nope", actor=DESK)),
    )
    assert unknown.type == "TicketNotFound"

    # The time-skipping server runs validators in ordinary workflow tasks (the dev server's
    # speculative tasks leave no trace at all; tests/api checks that), so only the absence of
    # Update and activity events can be asserted here.
    added = (await handle.fetch_history()).events[before:]
    assert not {e.event_type for e in added} & UPDATE_TRACES


async def test_complete_checks_holder_and_stage_form(stack: Stack) -> None:
    handle = await start(stack)
    await work(handle, "triage", DESK)
    await handle.execute_update(TicketWorkflow.claim, ClaimInput(stage_key="diagnose", actor=OPS))
    before = await history_length(handle)

    other = Actor(user="olga", department="ops", role="agent")
    not_holder = await rejected(
        handle,
        handle.execute_update(
            TicketWorkflow.complete,
            CompleteInput(stage_key="diagnose", actor=other, data=STAGE_DATA["diagnose"]),
        ),
    )
    assert not_holder.type == "TicketConflict"
    missing = await rejected(
        handle,
        handle.execute_update(
            TicketWorkflow.complete, CompleteInput(stage_key="diagnose", actor=OPS, data={})
        ),
    )
    assert missing.type == "TicketInvalidInput"
    assert missing.details[0]["problems"] == [
        {"pointer": "/root_cause", "detail": "'root_cause' is a required property"}
    ]
    added = (await handle.fetch_history()).events[before:]
    assert not {e.event_type for e in added} & UPDATE_TRACES


async def test_unclaim_and_reassign_move_the_task(stack: Stack) -> None:
    handle = await start(stack)
    await handle.execute_update(TicketWorkflow.claim, ClaimInput(stage_key="triage", actor=DESK))
    result = await handle.execute_update(
        TicketWorkflow.unclaim, UnclaimInput(stage_key="triage", actor=DESK)
    )
    assert result.task is not None
    assert result.task.status == TaskStatus.OPEN
    assert result.task.assignee is None

    moved = await handle.execute_update(
        TicketWorkflow.reassign,
        ReassignInput(stage_key="triage", actor=DESK, to_group="ops", reason="network issue"),
    )
    assert moved.task is not None
    assert moved.task.group == "ops"
    assert moved.task.status == TaskStatus.OPEN

    handed = await handle.execute_update(
        TicketWorkflow.reassign,
        ReassignInput(stage_key="triage", actor=OPS, to_user="oscar", reason="on call"),
    )
    assert handed.task is not None
    assert (handed.task.status, handed.task.assignee) == (TaskStatus.CLAIMED, "oscar")
    state = await handle.query(TicketWorkflow.state)
    assert [e.type for e in state.events][-3:] == [
        "task_unclaimed",
        "task_reassigned",
        "task_reassigned",
    ]
    assert state.events[-1].data["before"] == {"group": "ops", "assignee": None}


async def test_cancel_ends_the_workflow_and_cancels_open_tasks(stack: Stack) -> None:
    handle = await start(stack)
    await handle.execute_update(
        TicketWorkflow.cancel, CancelInput(actor=REQUESTER, reason="duplicate")
    )
    result = await handle.result()
    assert result.status == TicketStatus.CANCELLED
    state = await handle.query(TicketWorkflow.state)
    assert state.cancel_reason == "duplicate"
    assert {t.status for t in state.tasks.values()} == {TaskStatus.CANCELLED}


async def test_reopen_runs_final_stage_again_and_silence_closes(stack: Stack) -> None:
    handle = await start(stack)
    for stage, who in (("triage", DESK), ("diagnose", OPS), ("fix", DEV), ("verify", DESK)):
        await work(handle, stage, who)
    await handle.execute_update(
        TicketWorkflow.reopen, ReopenInput(actor=REQUESTER, reason="still broken")
    )
    state = await handle.query(TicketWorkflow.state)
    assert state.status == TicketStatus.OPEN
    assert state.tasks["verify"].round == 2
    assert state.tasks["verify"].status == TaskStatus.OPEN
    assert state.tasks["fix"].status == TaskStatus.DONE

    await work(handle, "verify", DESK)
    # Nobody confirms: the 24 h confirmation window runs out (time skips) and the ticket closes.
    result = await handle.result()
    assert result.status == TicketStatus.CLOSED
    state = await handle.query(TicketWorkflow.state)
    assert state.events[-1].data == {"by": "timeout"}
    assert state.closed_at is not None
    assert state.resolved_at is not None
    assert state.closed_at - state.resolved_at >= timedelta(hours=24)


async def test_same_update_id_applies_once(stack: Stack) -> None:
    handle = await start(stack)
    first = await handle.execute_update(
        TicketWorkflow.comment, CommentInput(actor=DESK, body="looking"), id="req-1"
    )
    again = await handle.execute_update(
        TicketWorkflow.comment, CommentInput(actor=DESK, body="looking"), id="req-1"
    )
    assert first.seq == again.seq
    state = await handle.query(TicketWorkflow.state)
    assert [e.type for e in state.events].count("comment_added") == 1


async def test_external_signal_is_recorded(stack: Stack) -> None:
    handle = await start(stack)
    await handle.signal(
        TicketWorkflow.external_event,
        ExternalEventInput(name="customer_reply", source="mailer", payload={"text": "any news?"}),
    )
    comment = await handle.execute_update(
        TicketWorkflow.comment, CommentInput(actor=DESK, body="on it")
    )
    state = await handle.query(TicketWorkflow.state)
    external = [e for e in state.events if e.type == "external_event"]
    assert len(external) == 1
    assert external[0].actor == "mailer"
    assert external[0].data == {"name": "customer_reply", "payload": {"text": "any news?"}}
    assert comment.seq == state.last_seq
