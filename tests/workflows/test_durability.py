"""A ticket survives its worker process being SIGKILLed mid-Update: no step lost or repeated."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateStage
from temporalio.testing import WorkflowEnvironment

from domain.messages import ClaimInput, CompleteInput, ConfirmInput, StartTicketInput, TicketResult
from domain.ticket import Actor, TicketStatus
from store.models import TaskRow, TicketEventRow, TicketRow
from tests.builders import DESK, DEV, OPS, REQUESTER, STAGE_DATA, incident
from tests.dbutil import migrated_sessions, sqlite_url
from tests.temporal_env import dev_server_env
from workflows.ticket import PROJECTION_TIMEOUT, TicketWorkflow

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

Handle = WorkflowHandle[TicketWorkflow, TicketResult]

STEP_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0
# The killed worker had started the in-flight Update's projection activity, which the server
# retries only once its start-to-close timeout has run out: the Update needs that long (plus
# slack for a loaded machine) to finish on the new worker.
IN_FLIGHT_TIMEOUT = PROJECTION_TIMEOUT.total_seconds() + STEP_TIMEOUT
IN_FLIGHT_UPDATE_ID = "claim-diagnose-in-flight"


class WorkerProcesses:
    """`ticketflow worker` processes on one task queue, each logging to a file; killed on exit."""

    def __init__(self, *, client: Client, database_url: str, task_queue: str, logs: Path):
        self._environ = {
            **os.environ,
            "TICKETFLOW_TEMPORAL_ADDRESS": client.service_client.config.target_host,
            "TICKETFLOW_TEMPORAL_NAMESPACE": client.namespace,
            "TICKETFLOW_DATABASE_URL": database_url,
        }
        self._task_queue = task_queue
        self._logs = logs
        self.started: list[subprocess.Popen[bytes]] = []

    def start(self) -> subprocess.Popen[bytes]:
        """Start one more worker process."""
        log = self._logs / f"worker-{len(self.started) + 1}.log"
        with log.open("wb") as sink:
            process = subprocess.Popen(
                [sys.executable, "-m", "ticketflow", "worker", "--task-queue", self._task_queue],
                cwd=self._logs,
                env=self._environ,
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        self.started.append(process)
        return process

    def output(self) -> str:
        """What every worker printed so far, for failure messages."""
        return "\n".join(
            f"--- worker {n} ---\n"
            + (self._logs / f"worker-{n}.log").read_text(errors="replace")[-4000:]
            for n in range(1, len(self.started) + 1)
        )

    def stop_all(self) -> None:
        """Stop live workers gracefully (SIGTERM), killing any that do not stop in time."""
        for process in self.started:
            if process.poll() is None:
                process.terminate()
        for process in self.started:
            try:
                process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@contextmanager
def worker_processes(
    *, client: Client, database_url: str, task_queue: str, logs: Path
) -> Iterator[WorkerProcesses]:
    """Worker processes that are all stopped however the test ends."""
    workers = WorkerProcesses(
        client=client, database_url=database_url, task_queue=task_queue, logs=logs
    )
    try:
        yield workers
    finally:
        workers.stop_all()


@asynccontextmanager
async def dev_server() -> AsyncIterator[WorkflowEnvironment]:
    """A fresh dev server, shut down afterwards."""
    env = await dev_server_env()
    try:
        yield env
    finally:
        await env.shutdown()


@contextmanager
def sqlite_write_lock(path: Path) -> Iterator[None]:
    """Hold SQLite's write lock, so every projection blocks until it is released."""
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        connection.execute("BEGIN IMMEDIATE")
        yield
    finally:
        with suppress(sqlite3.Error):
            connection.execute("ROLLBACK")
        connection.close()


async def wait_for_ticket_row(
    sessions: async_sessionmaker[AsyncSession],
    key: str,
    worker: subprocess.Popen[bytes],
    workers: WorkerProcesses,
) -> None:
    """Wait until the ticket's first projection is in SQL: the worker is up and polling."""
    async with asyncio.timeout(STEP_TIMEOUT):
        while True:
            async with sessions() as session:
                if await session.get(TicketRow, key) is not None:
                    return
            assert worker.poll() is None, f"worker exited early:\n{workers.output()}"
            await asyncio.sleep(0.1)


async def work(handle: Handle, stage: str, who: Actor) -> None:
    """Claim and complete a stage with valid data."""
    await handle.execute_update(TicketWorkflow.claim, ClaimInput(stage_key=stage, actor=who))
    await complete(handle, stage, who)


async def complete(handle: Handle, stage: str, who: Actor) -> None:
    """Complete a claimed stage with valid data."""
    await handle.execute_update(
        TicketWorkflow.complete, CompleteInput(stage_key=stage, actor=who, data=STAGE_DATA[stage])
    )


async def update_trail(handle: Handle) -> tuple[list[str], list[str]]:
    """The ids of the Updates the history shows accepted, and of those it shows completed."""
    accepted, completed = [], []
    for event in (await handle.fetch_history()).events:
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
            attributes = event.workflow_execution_update_accepted_event_attributes
            accepted.append(attributes.accepted_request.meta.update_id)
        elif event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED:
            completed.append(
                event.workflow_execution_update_completed_event_attributes.meta.update_id
            )
    return accepted, completed


async def test_sigkilled_worker_mid_update_loses_and_repeats_nothing(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    database = tmp_path / "ticketflow.db"
    queue = f"tickets-{uuid.uuid4().hex[:8]}"
    key = f"INC-{uuid.uuid4().hex[:6]}"
    async with (
        dev_server() as env,
        migrated_sessions(url) as sessions,
    ):
        with worker_processes(
            client=env.client, database_url=url, task_queue=queue, logs=tmp_path
        ) as workers:
            first = workers.start()
            handle = await env.client.start_workflow(
                TicketWorkflow.run,
                StartTicketInput(
                    key=key,
                    definition=incident(),
                    intake={"title": "VPN down"},
                    requester=REQUESTER,
                ),
                id=key,
                task_queue=queue,
            )
            await wait_for_ticket_row(sessions, key, first, workers)
            async with asyncio.timeout(STEP_TIMEOUT):
                await work(handle, "triage", DESK)

                # The lock keeps the accepted Update's projection from landing, so the kill
                # is certain to hit the Update between its acceptance and its completion.
                with sqlite_write_lock(database):
                    in_flight = await handle.start_update(
                        TicketWorkflow.claim,
                        ClaimInput(stage_key="diagnose", actor=OPS),
                        wait_for_stage=WorkflowUpdateStage.ACCEPTED,
                        id=IN_FLIGHT_UPDATE_ID,
                    )
                    first.send_signal(signal.SIGKILL)
                    assert first.wait(STOP_TIMEOUT) == -signal.SIGKILL
                accepted, completed = await update_trail(handle)
                assert IN_FLIGHT_UPDATE_ID in accepted
                assert IN_FLIGHT_UPDATE_ID not in completed

            second = workers.start()
            async with asyncio.timeout(IN_FLIGHT_TIMEOUT):
                claimed = await in_flight.result()
            assert claimed.task is not None
            assert (claimed.task.stage_key, claimed.task.assignee) == ("diagnose", OPS.user)
            assert second.poll() is None, workers.output()

            async with asyncio.timeout(STEP_TIMEOUT):
                await complete(handle, "diagnose", OPS)
                await work(handle, "fix", DEV)
                await work(handle, "verify", DESK)
                await handle.execute_update(
                    TicketWorkflow.confirm, ConfirmInput(actor=REQUESTER, comment="works again")
                )
                result = await handle.result()
                state = await handle.query(TicketWorkflow.state)
                accepted, completed = await update_trail(handle)

        async with sessions() as session:
            ticket = await session.get(TicketRow, key)
            rows = (
                await session.scalars(
                    select(TicketEventRow)
                    .where(TicketEventRow.ticket_key == key)
                    .order_by(TicketEventRow.seq)
                )
            ).all()
            tasks = (await session.scalars(select(TaskRow).where(TaskRow.ticket_key == key))).all()

    assert result.status == TicketStatus.CLOSED
    events = state.events
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert result.last_seq == len(events)
    assert Counter(e.data["stage"] for e in events if e.type == "task_completed") == {
        "triage": 1,
        "diagnose": 1,
        "fix": 1,
        "verify": 1,
    }
    assert Counter(e.data["stage"] for e in events if e.type == "task_claimed") == {
        "triage": 1,
        "diagnose": 1,
        "fix": 1,
        "verify": 1,
    }
    assert [e.type for e in events].count("closed") == 1
    # Temporal's own record: every accepted Update completed, each exactly once.
    assert len(set(accepted)) == len(accepted)
    assert sorted(accepted) == sorted(completed)

    # Past the workflow's last seq, the closed ticket's recurrence watch records its start.
    watched = (len(events) + 1, "recurrence_watch_started", "system")
    assert [(r.seq, r.type, r.actor) for r in rows] == [
        *((e.seq, e.type, e.actor) for e in events),
        watched,
    ]
    assert ticket is not None
    assert (ticket.status, ticket.last_seq) == ("closed", len(events) + 1)
    assert sorted((t.stage_key, t.status) for t in tasks) == [
        ("diagnose", "done"),
        ("fix", "done"),
        ("triage", "done"),
        ("verify", "done"),
    ]
