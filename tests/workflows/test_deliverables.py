"""A stage's deliverable contract in TicketWorkflow on the time-skipping server."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from domain.deliverables import DeliverableSpec, Submission
from domain.media_types import PCAP, TEXT
from domain.messages import (
    AmendContractInput,
    AttachDeliverableInput,
    ClaimInput,
    CompleteInput,
    StartTicketInput,
    TicketResult,
)
from domain.ticket import Actor, TaskStatus
from store.models import DeliverableVersionRow, TicketEventRow
from tests.builders import REQUESTER
from tests.domain.processes import process, stage
from tests.workflows.conftest import Stack
from workflows.ticket import TicketWorkflow

DESK = Actor(user="dana", department="desk", role="agent")
CAPTURE = {"key": "capture", "kind": "file", "media_types": [PCAP]}
DEFINITION = process(stage("fix", deliverables=[CAPTURE]), stage("check", depends_on=["fix"]))


def capture(**fields: object) -> Submission:
    base: dict[str, object] = {
        "sha256": "cd" * 32,
        "size": 84,
        "media_type": PCAP,
        "file_name": "uplink.pcap",
    }
    return Submission.model_validate({**base, **fields})


async def claimed(stack: Stack) -> WorkflowHandle[TicketWorkflow, TicketResult]:
    key = f"FLOW-{uuid.uuid4().hex[:6]}"
    handle = await stack.client.start_workflow(
        TicketWorkflow.run,
        StartTicketInput(key=key, definition=DEFINITION, intake={}, requester=REQUESTER),
        id=key,
        task_queue=stack.task_queue,
    )
    await handle.execute_update(TicketWorkflow.claim, ClaimInput(stage_key="fix", actor=DESK))
    return handle


async def refusal(call: object) -> ApplicationError:
    with pytest.raises(WorkflowUpdateFailedError) as failed:
        await call  # type: ignore[misc]
    cause = failed.value.cause
    assert isinstance(cause, ApplicationError)
    return cause


async def test_a_stage_with_a_required_capture_completes_only_once_one_is_attached(
    stack: Stack,
) -> None:
    handle = await claimed(stack)
    complete = CompleteInput(stage_key="fix", actor=DESK)
    refused = await refusal(handle.execute_update(TicketWorkflow.complete, complete))
    assert refused.type == "TicketConflict"
    assert [p["pointer"] for p in refused.details[0]["problems"]] == ["/deliverables/capture"]

    # A text file is no capture: the attachment itself is refused, and nothing recorded.
    wrong = AttachDeliverableInput(
        stage_key="fix", deliverable="capture", actor=DESK, submission=capture(media_type=TEXT)
    )
    refused = await refusal(handle.execute_update(TicketWorkflow.attach_deliverable, wrong))
    assert refused.type == "TicketInvalidInput"

    attach = wrong.model_copy(update={"submission": capture()})
    await handle.execute_update(TicketWorkflow.attach_deliverable, attach)
    await handle.execute_update(TicketWorkflow.complete, complete)
    state = await handle.query(TicketWorkflow.state)
    assert state.tasks["fix"].status == TaskStatus.DONE
    assert [v.version for v in state.deliverables["fix"]["capture"]] == [1]
    async with stack.sessions() as session:
        rows = (await session.scalars(select(DeliverableVersionRow))).all()
        types = (
            await session.scalars(
                select(TicketEventRow.type).where(TicketEventRow.ticket_key == handle.id)
            )
        ).all()
    assert [(r.ticket_key, r.stage, r.version, r.file_name) for r in rows] == [
        (handle.id, "fix", 1, "uplink.pcap")
    ]
    assert "deliverable_attached" in types


async def test_an_amended_contract_lets_the_stage_complete_without_the_capture(
    stack: Stack,
) -> None:
    handle = await claimed(stack)
    optional = DeliverableSpec(key="capture", kind="file", media_types=[PCAP], required=False)
    amend = AmendContractInput(
        stage_key="fix", actor=DESK, deliverables=[optional], reason="the switch has no span port"
    )
    await handle.execute_update(TicketWorkflow.amend_contract, amend)
    await handle.execute_update(TicketWorkflow.complete, CompleteInput(stage_key="fix", actor=DESK))
    state = await handle.query(TicketWorkflow.state)
    assert state.tasks["fix"].status == TaskStatus.DONE
    amended = [e for e in state.events if e.type == "contract_amended"]
    assert amended[0].data["reason"] == "the switch has no span port"
    contract = await handle.query(TicketWorkflow.contract, "fix")
    assert contract.deliverables == [optional]
