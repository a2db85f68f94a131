"""Triage in the TicketWorkflow: real activity, a tiny real model, real SQLite registry."""

from __future__ import annotations

import asyncio
import copy
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from activities.triage import register_run
from domain.messages import (
    ClaimInput,
    CompleteInput,
    ReassignInput,
    StartTicketInput,
    TicketResult,
)
from domain.triage import DispatchInput
from store import triage as triage_store
from store.models import TriageLabelRow, TriageOutcomeRow
from tests.builders import REQUESTER, actor
from tests.dbutil import migrated_sessions, sqlite_url
from tests.triage.fixtures import sample_examples, sample_model, support, triaged
from triage.artifacts import artifact_path, save_model
from triage.candidates import BLEND
from workers.tickets import build_ticket_worker
from workflows.ticket import TicketWorkflow

Handle = WorkflowHandle[TicketWorkflow, TicketResult]
DISPATCHER = actor("dora", "dispatch")
NETWORK = actor("nick", "network")


@dataclass
class TriageStack:
    """Client, queue, store and the data dir holding model artifacts."""

    client: Client
    task_queue: str
    sessions: async_sessionmaker[AsyncSession]
    data_dir: Path


@asynccontextmanager
async def triage_stack(client: Client, tmp_path: Path) -> AsyncIterator[TriageStack]:
    """A worker with the real triage activity, its registry in a fresh SQLite file."""
    queue = f"tickets-{uuid.uuid4().hex[:8]}"
    async with (
        migrated_sessions(sqlite_url(tmp_path)) as sessions,
        build_ticket_worker(client=client, task_queue=queue, sessions=sessions, data_dir=tmp_path),
    ):
        yield TriageStack(client, queue, sessions, tmp_path)


@pytest.fixture
async def stack(env: WorkflowEnvironment, tmp_path: Path) -> AsyncIterator[TriageStack]:
    """A triage stack on this module's time-skipping server."""
    async with triage_stack(env.client, tmp_path) as opened:
        yield opened


async def train_live_model(stack: TriageStack) -> None:
    """Train on the committed sample and promote it (no live model yet, so it wins)."""
    result = await register_run(
        sessions=stack.sessions,
        data_dir=stack.data_dir,
        examples=sample_examples(),
        candidates=(BLEND,),
        current=None,
        note="test",
    )
    assert result.promoted


async def open_ticket(stack: TriageStack, intake: dict[str, Any], threshold: float = 0.5) -> Handle:
    key = f"SUP-{uuid.uuid4().hex[:6]}"
    return await stack.client.start_workflow(
        TicketWorkflow.run,
        StartTicketInput(
            key=key, definition=support(threshold), intake=intake, requester=REQUESTER
        ),
        id=key,
        task_queue=stack.task_queue,
    )


async def outcome(stack: TriageStack, key: str) -> TriageOutcomeRow:
    for _ in range(100):
        async with stack.sessions() as session:
            row = await session.get(TriageOutcomeRow, key)
        if row is not None:
            return row
        await asyncio.sleep(0.05)
    raise AssertionError(f"no triage outcome for {key}")


VPN = {"title": "VPN drops every few minutes", "description": "vpn client disconnects from home"}


async def test_without_a_model_the_dispatcher_gets_the_ticket_and_decides(
    stack: TriageStack,
) -> None:
    handle = await open_ticket(stack, VPN)
    event = await triaged(handle)
    assert event.data["routed"] is False
    assert event.data["result"]["error"] == "no trained triage model yet"
    state = await handle.query(TicketWorkflow.state)
    assert state.tasks["handle"].group == "dispatch"

    with pytest.raises(WorkflowUpdateFailedError):
        await handle.execute_update(
            TicketWorkflow.dispatch, DispatchInput(actor=NETWORK, team="network")
        )
    await handle.execute_update(
        TicketWorkflow.dispatch,
        DispatchInput(actor=DISPATCHER, team="network", category="connectivity", reason="vpn"),
    )
    state = await handle.query(TicketWorkflow.state)
    assert state.tasks["handle"].group == "network"
    async with stack.sessions() as session:
        labels = list(await session.scalars(select(TriageLabelRow)))
        row = await session.get(TriageOutcomeRow, handle.id)
    assert [(lab.team, lab.source, lab.reason, lab.actor) for lab in labels] == [
        ("network", "dispatcher", "vpn", "dora")
    ]
    assert row is not None
    assert (row.model_version, row.first_team, row.final_team) == (None, "network", "network")


async def test_a_confident_model_routes_at_once_and_explains_why(stack: TriageStack) -> None:
    await train_live_model(stack)
    handle = await open_ticket(stack, VPN)
    event = await triaged(handle)
    result = event.data["result"]
    assert event.data["routed"] is True
    assert result["team"] == "network"
    assert result["model_version"] == 1
    assert len(result["alternatives"]) == 3
    assert result["top_features"]
    assert event.data["ticket"]["fields"]["reporter_role"] == "requester"
    state = await handle.query(TicketWorkflow.state)
    assert state.tasks["handle"].group == "network"
    # Nobody chose a priority, so the model's (from the labelled VPN tickets) is the ticket's.
    assert result["priority"] in ("P1", "P2")
    assert state.priority == result["priority"]
    assert [e.actor for e in state.events if e.type == "priority_changed"] == ["triage"]

    await handle.execute_update(TicketWorkflow.claim, ClaimInput(stage_key="handle", actor=NETWORK))
    await handle.execute_update(
        TicketWorkflow.reassign,
        ReassignInput(stage_key="handle", actor=NETWORK, to_group="desktop", reason="laptop"),
    )
    row = await outcome(stack, handle.id)
    async with stack.sessions() as session:
        row = await session.get(TriageOutcomeRow, handle.id)
        labels = list(await session.scalars(select(TriageLabelRow)))
    assert row is not None
    assert (row.auto_routed, row.first_team, row.final_team, row.reassignments) == (
        True,
        "network",
        "desktop",
        1,
    )
    assert [(lab.team, lab.source, lab.reason) for lab in labels] == [
        ("desktop", "reassignment", "laptop")
    ]


async def test_a_routed_ticket_resolved_by_its_team_counts_as_a_first_dispatch(
    stack: TriageStack,
) -> None:
    await train_live_model(stack)
    handle = await open_ticket(stack, VPN)
    assert (await triaged(handle)).data["routed"] is True
    for stage, who in (("handle", NETWORK), ("verify", DISPATCHER)):
        await handle.execute_update(TicketWorkflow.claim, ClaimInput(stage_key=stage, actor=who))
        await handle.execute_update(
            TicketWorkflow.complete, CompleteInput(stage_key=stage, actor=who)
        )
    async with stack.sessions() as session:
        kpis = await triage_store.triage_kpis(session=session)
        labelled = await triage_store.labelled_tickets(session=session)
    assert kpis["first_dispatch_accuracy"] == 1.0
    assert kpis["model_accuracy_resolved"] == 1.0
    assert kpis["teams"]["network"] == {
        "precision": 1.0,
        "recall": 1.0,
        "coverage": 1.0,
        "predicted": 1,
        "actual": 1,
    }
    assert [(t.title, team) for t, team, _, _ in labelled] == [(VPN["title"], "network")]


async def test_below_the_threshold_the_dispatcher_sees_the_suggestions(
    stack: TriageStack,
) -> None:
    await train_live_model(stack)
    handle = await open_ticket(stack, VPN, threshold=0.99)
    event = await triaged(handle)
    assert event.data["routed"] is False
    assert event.data["result"]["team"] == "network"
    assert event.data["result"]["alternatives"][0]["label"] == "network"
    state = await handle.query(TicketWorkflow.state)
    assert state.tasks["handle"].group == "dispatch"


async def test_a_corrupt_model_file_means_manual_triage_not_a_stuck_ticket(
    stack: TriageStack, caplog: pytest.LogCaptureFixture
) -> None:
    await train_live_model(stack)
    artifact = next((stack.data_dir / "triage-models").glob("*.joblib"))
    artifact.write_bytes(artifact.read_bytes()[:-100] + b"x" * 100)
    handle = await open_ticket(stack, VPN)
    event = await triaged(handle)
    assert event.data["routed"] is False
    assert "checksum" in event.data["result"]["error"]
    assert any("triage model unusable" in r.getMessage() for r in caplog.records)
    state = await handle.query(TicketWorkflow.state)
    assert state.tasks["handle"].group == "dispatch"


async def test_empty_and_huge_text_are_triaged(stack: TriageStack) -> None:
    await train_live_model(stack)
    empty = await open_ticket(stack, {})
    huge = await open_ticket(stack, {"title": "VPN", "description": "vpn timeout " * 100_000})
    assert (await triaged(empty)).data["result"]["model_version"] == 1
    event = await triaged(huge)
    assert len(event.data["ticket"]["description"]) == 8000
    assert event.data["result"]["team"] == "network"


async def test_a_model_that_fails_to_predict_ends_in_manual_triage(stack: TriageStack) -> None:
    broken = copy.copy(sample_model())
    broken.heads = {}  # an artifact that loads but cannot answer: predict raises KeyError
    path = artifact_path(stack.data_dir, 1)
    sha256 = save_model(broken, path)
    async with stack.sessions() as session, session.begin():
        await triage_store.add_model(
            session=session,
            version=1,
            path=str(path.relative_to(stack.data_dir)),
            sha256=sha256,
            training_size=0,
            metrics={},
            features={},
            now=datetime.now(UTC),
        )
        await triage_store.promote_model(session=session, version=1)
    handle = await open_ticket(stack, VPN)
    event = await triaged(handle)
    assert event.data["routed"] is False
    assert event.data["result"]["error"].startswith("triage failed")
    state = await handle.query(TicketWorkflow.state)
    assert state.tasks["handle"].group == "dispatch"
