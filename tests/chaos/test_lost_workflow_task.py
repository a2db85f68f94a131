"""A worker killed after a projection committed, before its workflow task completed.

The lost task's rerun differs from it (its own times; an Update that arrived meanwhile runs
before a timer's firing), so whatever leaves the system (the outbox subscribers read, the
notifications, the event listing) must show only what the history holds: checked while the
worker is dead and again once the rerun has confirmed everything.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client, WithStartWorkflowOperation, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.testing import WorkflowEnvironment

from domain.definitions import ProcessDefinition
from domain.messages import ClaimInput, StartTicketInput, TicketResult, TransitionResult
from domain.ticket import TicketState
from store.confirmation import confirm_committed
from store.models import OutboxRow, TicketRow
from store.notifications import list_notifications
from store.tickets import list_events
from tests.builders import DESK, REQUESTER
from tests.chaos.driver import DEFINITION
from tests.dbutil import migrated_sessions, sqlite_url
from tests.temporal_env import dev_server_env
from workers.kill_points import KILL_DIR_ENV
from workflows.ticket import TicketWorkflow

pytestmark = pytest.mark.chaos

Sessions = async_sessionmaker[AsyncSession]
Handle = WorkflowHandle[TicketWorkflow, TicketResult]

# The ticket worker in a process of its own, since a kill point SIGKILLs its process.
WORKER = """
import asyncio
import sys

from temporalio.client import Client

from store.db import make_async_engine, make_sessionmaker
from ticketflow.temporal_client import DATA_CONVERTER
from workers.tickets import build_ticket_worker


async def main(address: str, queue: str, url: str) -> None:
    client = await Client.connect(address, data_converter=DATA_CONVERTER)
    sessions = make_sessionmaker(make_async_engine(url))
    async with build_ticket_worker(client=client, task_queue=queue, sessions=sessions):
        await asyncio.Event().wait()


asyncio.run(main(*sys.argv[1:]))
"""
# A killed worker's workflow task goes to another after this; the default is 10 s.
TASK_TIMEOUT = timedelta(seconds=3)
# Bounds for a loaded 2-core machine: a worker process's start, a rerun after a kill.
PATIENCE = 120.0


@dataclass
class Rig:
    """A dev server, a migrated SQLite file, and where the kill points are armed."""

    client: Client
    address: str
    url: str
    sessions: Sessions
    kills: Path


@pytest.fixture(scope="module")
async def server() -> AsyncIterator[WorkflowEnvironment]:
    environment = await dev_server_env()
    try:
        yield environment
    finally:
        await environment.shutdown()


@pytest.fixture
async def rig(server: WorkflowEnvironment, tmp_path: Path) -> AsyncIterator[Rig]:
    url = sqlite_url(tmp_path)
    kills = tmp_path / "kills"
    kills.mkdir()
    async with migrated_sessions(url) as sessions:
        yield Rig(
            client=server.client,
            address=server.client.service_client.config.target_host,
            url=url,
            sessions=sessions,
            kills=kills,
        )


@contextmanager
def worker(rig: Rig, queue: str) -> Iterator[subprocess.Popen[bytes]]:
    """A ticket worker process on `queue`, with the kill points of `rig.kills` installed."""
    process = subprocess.Popen(
        [sys.executable, "-c", WORKER, rig.address, queue, rig.url],
        env={**os.environ, KILL_DIR_ENV: str(rig.kills)},
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)


async def died(process: subprocess.Popen[bytes]) -> None:
    """Wait until the worker has killed itself at its armed point."""
    for _ in range(int(PATIENCE * 10)):
        if process.poll() is not None:
            break
        await asyncio.sleep(0.1)
    assert process.returncode == -signal.SIGKILL


async def open_ticket(rig: Rig, queue: str, definition: ProcessDefinition) -> Handle:
    """Start a ticket as the creator does, confirming its creation once `opened` answers."""
    key = f"LT-{uuid.uuid4().hex[:6]}"
    operation = WithStartWorkflowOperation(
        TicketWorkflow.run,
        StartTicketInput(
            key=key, definition=definition, intake={"title": "VPN down"}, requester=REQUESTER
        ),
        id=key,
        task_queue=queue,
        task_timeout=TASK_TIMEOUT,
        id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
    )
    opened = await rig.client.execute_update_with_start_workflow(
        TicketWorkflow.opened, start_workflow_operation=operation, id=f"{key}:opened"
    )
    await confirmed(rig, key, opened)
    return await operation.workflow_handle()


async def confirmed(rig: Rig, key: str, answer: TransitionResult) -> None:
    """What the API does with an Update's answer."""
    async with rig.sessions() as session, session.begin():
        await confirm_committed(session=session, key=key, through=answer.seq)


@dataclass(frozen=True)
class Seen:
    """What leaves the system for one ticket: outbox, listed events and notifications."""

    outbox: list[tuple[int, str, Any]]
    events: list[tuple[int, str, Any]]
    notified: list[int]


async def seen(rig: Rig, key: str) -> Seen:
    async with rig.sessions() as session:
        outbox = await session.execute(
            select(OutboxRow.seq, OutboxRow.type, OutboxRow.at)
            .where(OutboxRow.ticket_key == key)
            .order_by(OutboxRow.position)
        )
        events = await list_events(session=session, key=key)
        notes = await list_notifications(session=session, recipients=None, ticket_key=key)
        return Seen(
            outbox=[(seq, type_, at) for seq, type_, at in outbox],
            events=[(e.seq, e.type, e.at) for e in events],
            notified=sorted({n.seq for n in notes}),
        )


async def settled(rig: Rig, handle: Handle) -> TicketState:
    """The workflow's state once the store has confirmed every event it recorded."""
    for _ in range(int(PATIENCE * 5)):
        state = await handle.query(TicketWorkflow.state)
        async with rig.sessions() as session:
            row = await session.get(TicketRow, handle.id)
        if row is not None and row.confirmed_seq == state.last_seq:
            return state
        await asyncio.sleep(0.2)
    raise AssertionError(f"{handle.id}: the store never confirmed seq {state.last_seq}")


def assert_only_history(what: Seen, state: TicketState, *, complete: bool = False) -> None:
    """Every event shown is the history's event of that seq; notifications only of rungs."""
    history = {e.seq: (e.type, e.at) for e in state.events}
    for seq, type_, at in [*what.outbox, *what.events]:
        assert (seq, type_, at) == (seq, *history[seq]), "a lost run's version left the system"
    rungs = {e.seq for e in state.events if e.type == "sla_rung_fired"}
    assert set(what.notified) <= rungs, "a notification of an event the history does not hold"
    if complete:
        assert [seq for seq, _, _ in what.outbox] == sorted(history), "outbox not in seq order"
        assert [seq for seq, _, _ in what.events] == sorted(history)
        assert what.notified == sorted(rungs)


def arm(rig: Rig, point: str, call: int) -> None:
    (rig.kills / f"{point}.arm").write_text(f"{call} {uuid.uuid4().hex}")


async def test_an_sla_firing_lost_with_its_worker_leaves_nothing_the_history_lacks(
    rig: Rig,
) -> None:
    # The first stage's ladder fires a rung 1 s after creation; the worker dies right after
    # that firing's projection committed. A claim sent meanwhile reaches the workflow before
    # a rerun of the firing would.
    queue = f"lost-{uuid.uuid4().hex[:8]}"
    definition = ProcessDefinition.model_validate({**DEFINITION, "triage": None, "version": 1})
    arm(rig, "sla-done", 1)
    with worker(rig, queue) as first:
        handle = await open_ticket(rig, queue, definition)
        await died(first)
    hit = json.loads((rig.kills / "sla-done.hit").read_text())
    assert hit["workflow_id"] == handle.id
    while_dead = await seen(rig, handle.id)
    claim = asyncio.create_task(
        handle.execute_update(TicketWorkflow.claim, ClaimInput(stage_key="work", actor=DESK))
    )
    with worker(rig, queue):
        await confirmed(rig, handle.id, await asyncio.wait_for(claim, PATIENCE))
        # The history up to the claim is fixed now: what was out while the worker was dead
        # must be part of it.
        assert_only_history(while_dead, await handle.query(TicketWorkflow.state))
        state = await settled(rig, handle)
        at_end = await seen(rig, handle.id)
    assert_only_history(at_end, state, complete=True)
    assert at_end.notified, "the rungs' notifications never became visible"


async def test_an_update_s_projection_lost_with_its_worker_is_never_shown(rig: Rig) -> None:
    # No SLA: the worker's projections are the creation's (1st) and the claim's (2nd), which
    # commits its rows and then loses its workflow task; the claim's rerun has other times.
    queue = f"lost-{uuid.uuid4().hex[:8]}"
    stages = [{k: v for k, v in stage.items() if k != "sla"} for stage in DEFINITION["stages"]]
    definition = ProcessDefinition.model_validate(
        {**DEFINITION, "triage": None, "version": 1, "stages": stages}
    )
    arm(rig, "projection-done", 2)
    with worker(rig, queue) as first:
        handle = await open_ticket(rig, queue, definition)
        claim = asyncio.create_task(
            handle.execute_update(TicketWorkflow.claim, ClaimInput(stage_key="work", actor=DESK))
        )
        await died(first)
    while_dead = await seen(rig, handle.id)
    with worker(rig, queue):
        await confirmed(rig, handle.id, await asyncio.wait_for(claim, PATIENCE))
        # The history up to the claim is fixed now: what was out while the worker was dead
        # must be part of it.
        assert_only_history(while_dead, await handle.query(TicketWorkflow.state))
        state = await settled(rig, handle)
        at_end = await seen(rig, handle.id)
    assert_only_history(at_end, state, complete=True)
    assert [e.type for e in state.events][-1] == "task_claimed"
