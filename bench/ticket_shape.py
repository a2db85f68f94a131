"""What one closed ticket costs the Temporal server, counted from histories (no timings).

Drives the throughput bench's two-stage ticket (bench/throughput.py's definition, the API's
sequence: created with update-with-start on `opened`, claim + complete stage a, claim +
complete stage b, confirm) on a time-skipping test server with the real ticket worker (30-day
recurrence watches on, as `ticketflow worker` runs it) and a migrated SQLite app database.
Then it moves the server's clock past the 30-day recurrence window, runs the recurrence sweep
once as its Schedule would (where the code has one), and reads the history of every workflow
the ticket caused: the ticket's own, and its recurrence watch's when one was started.

Printed per workflow and in total: history events, workflow tasks, regular and local
activities, timers, workflows. The sweep's run is shown apart: it serves every ticket whose
window ended since the previous run, so its cost per ticket is its count over that number.

Run from the repository root:

    .venv/bin/python bench/ticket_shape.py [--tickets N]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

# The repository first; this folder last, as bench/forms.py is named like the `forms` package.
_BENCH = Path(__file__).resolve().parent
_OTHERS = [p for p in sys.path if Path(p or ".").resolve() != _BENCH]
sys.path[:] = [str(_BENCH.parent), *_OTHERS, str(_BENCH)]

from temporalio.api.enums.v1 import EventType  # noqa: E402
from temporalio.client import (  # noqa: E402
    Client,
    WithStartWorkflowOperation,
    WorkflowExecutionStatus,
    WorkflowHandle,
)
from temporalio.common import WorkflowIDConflictPolicy  # noqa: E402
from temporalio.service import RPCError, RPCStatusCode  # noqa: E402
from temporalio.testing import WorkflowEnvironment  # noqa: E402
from throughput import DEFINITION, DEPARTMENT, STAGES  # noqa: E402

from domain.definitions import ProcessDefinition  # noqa: E402
from domain.messages import ClaimInput, CompleteInput, ConfirmInput, StartTicketInput  # noqa: E402
from domain.recurrence import (  # noqa: E402
    RECURRENCE_SWEEP_WORKFLOW,
    RECURRENCE_WINDOW,
    SweepInput,
    SweepResult,
    watch_workflow_id,
)
from domain.ticket import Actor  # noqa: E402
from store.db import make_async_engine, make_sessionmaker  # noqa: E402
from store.migrate import upgrade_database  # noqa: E402
from ticketflow.temporal_client import DATA_CONVERTER, ensure_search_attributes  # noqa: E402
from workers.tickets import build_ticket_worker  # noqa: E402
from workflows.ticket import TicketWorkflow  # noqa: E402

QUEUE = "shape-tickets"
REQUESTER = Actor(user="rita", department="sales", role="requester")
AGENT = Actor(user="dana", department=DEPARTMENT, role="agent")
LOCAL_ACTIVITY_MARKER = "core_local_activity"


@dataclass
class Shape:
    """What one or more histories show."""

    workflows: int = 0
    events: int = 0
    workflow_tasks: int = 0
    activities: int = 0
    local_activities: int = 0
    timers: int = 0

    def add(self, other: Shape) -> None:
        """Add another shape's counts to this one."""
        for name in vars(self):
            setattr(self, name, getattr(self, name) + getattr(other, name))


async def shape_of(client: Client, workflow_id: str) -> Shape | None:
    """The counts of one workflow's history; None if no such workflow ever ran."""
    try:
        history = await client.get_workflow_handle(workflow_id).fetch_history()
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return None
        raise
    shape = Shape(workflows=1, events=len(history.events))
    for event in history.events:
        kind = event.event_type
        if kind == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
            shape.workflow_tasks += 1
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            shape.activities += 1
        elif kind == EventType.EVENT_TYPE_TIMER_STARTED:
            shape.timers += 1
        elif (
            kind == EventType.EVENT_TYPE_MARKER_RECORDED
            and event.marker_recorded_event_attributes.marker_name == LOCAL_ACTIVITY_MARKER
        ):
            shape.local_activities += 1
    return shape


async def until_done(handle: WorkflowHandle[object, object]) -> None:
    """Poll (real seconds) until the workflow completes; `result()` would skip time."""
    for _ in range(1200):
        if (await handle.describe()).status == WorkflowExecutionStatus.COMPLETED:
            return
        await asyncio.sleep(0.05)
    raise RuntimeError(f"{handle.id} never completed")


async def drive(client: Client, definition: ProcessDefinition, index: int) -> str:
    """File, work and confirm one ticket the way the API does; its key."""
    key = f"BENCH-{index:06d}-{uuid.uuid4().hex[:4]}"
    start = StartTicketInput(
        key=key,
        definition=definition,
        intake={"title": f"bench ticket {index}"},
        requester=REQUESTER,
    )
    operation = WithStartWorkflowOperation(
        TicketWorkflow.run,
        start,
        id=key,
        task_queue=QUEUE,
        id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
    )
    await client.execute_update_with_start_workflow(
        TicketWorkflow.opened, start_workflow_operation=operation, id=f"{key}:opened"
    )
    handle = client.get_workflow_handle_for(TicketWorkflow.run, key)
    for stage in STAGES:
        await handle.execute_update(TicketWorkflow.claim, ClaimInput(stage_key=stage, actor=AGENT))
        await handle.execute_update(
            TicketWorkflow.complete, CompleteInput(stage_key=stage, actor=AGENT)
        )
    await handle.execute_update(TicketWorkflow.confirm, ConfirmInput(actor=REQUESTER))
    await until_done(client.get_workflow_handle(key))
    return key


def row(name: str, shape: Shape, per: int) -> str:
    """One printed line of counts, divided by `per`."""
    values = (
        shape.workflows,
        shape.events,
        shape.workflow_tasks,
        shape.activities,
        shape.local_activities,
        shape.timers,
    )
    return f"{name:<34}" + "".join(f"{v / per:>11.1f}" for v in values)


async def run(tickets: int) -> None:
    """Drive the tickets, end their windows, and print what their histories show."""
    environment = await WorkflowEnvironment.start_time_skipping(
        data_converter=DATA_CONVERTER,
        test_server_existing_path=str(Path(sys.executable).parent / "temporal-test-server"),
        test_server_startup_timeout=timedelta(seconds=60),
    )
    client = environment.client
    await ensure_search_attributes(client)
    definition = ProcessDefinition.model_validate({**DEFINITION, "version": 1})
    try:
        with tempfile.TemporaryDirectory() as workdir:
            url = f"sqlite:///{workdir}/app.db"
            upgrade_database(url=url)
            engine = make_async_engine(url)
            sessions = make_sessionmaker(engine)
            async with build_ticket_worker(
                client=client, task_queue=QUEUE, sessions=sessions, recurrence_watches=True
            ):
                keys = [await drive(client, definition, i) for i in range(tickets)]
                await environment.sleep(RECURRENCE_WINDOW + timedelta(hours=1))
                for key in keys:
                    watch = client.get_workflow_handle(watch_workflow_id(key))
                    if await shape_of(client, watch.id) is not None:
                        await until_done(watch)
                # One sweep run, as its Schedule starts it (the test server runs no Schedules).
                sweep_id = f"shape-sweep-{uuid.uuid4().hex[:6]}"
                await client.start_workflow(
                    RECURRENCE_SWEEP_WORKFLOW, SweepInput(), id=sweep_id, task_queue=QUEUE
                )
                await until_done(client.get_workflow_handle(sweep_id))
                sweep = await shape_of(client, sweep_id) or Shape()
                swept = client.get_workflow_handle(sweep_id, result_type=SweepResult)
                ended = (await swept.result()).ended
                ticket, watches = Shape(), Shape()
                for key in keys:
                    ticket.add(await shape_of(client, key) or Shape())
                    watches.add(await shape_of(client, watch_workflow_id(key)) or Shape())
            await engine.dispose()
    finally:
        await environment.shutdown()
    total = Shape()
    total.add(ticket)
    total.add(watches)
    print(f"per closed ticket, mean of {tickets} (two-stage bench ticket, window run out):")
    headers = ("workflows", "events", "wf tasks", "activities", "local", "timers")
    print(f"{'':<34}" + "".join(f"{h:>11}" for h in headers))
    print(row("TicketWorkflow", ticket, tickets))
    print(row("RecurrenceWatchWorkflow", watches, tickets))
    print(row("all the ticket caused", total, tickets))
    print(row(f"one sweep run ({ended} windows ended)", sweep, 1))


def main() -> None:
    """Parse the arguments and run."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tickets", type=int, default=3, help="tickets to drive")
    asyncio.run(run(parser.parse_args().tickets))
    sys.stdout.flush()
    # The worker's threads may still hold the interpreter: leave without finalising it.
    os._exit(0)


if __name__ == "__main__":
    main()
