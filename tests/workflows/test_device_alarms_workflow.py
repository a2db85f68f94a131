"""DeviceAlarmsWorkflow on the time-skipping server: dedupe, a closed ticket, the quiet end.

The ticket side is a stand-in here (the real filing runs in test_device_alarms.py): it hands
out keys, records what was signalled, and says a ticket has closed when told to.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from temporalio import activity
from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from domain.device_alarm_tickets import (
    ALARM_SIGNAL,
    DEVICE_ALARMS_WORKFLOW,
    OPEN_ALARM_TICKET_ACTIVITY,
    SIGNAL_ALARM_TICKET_ACTIVITY,
    AlarmReport,
    AlarmTicket,
    AlarmTicketInput,
    DeviceAlarmsInput,
    alarms_workflow_id,
)
from domain.device_alarms import AlarmKind, alarm_summary
from domain.device_reading import snapshot_of
from tests.domain.test_device_alarms import curve, pump
from tests.temporal_env import time_skipping_env
from workflows.device_alarms import DeviceAlarmsWorkflow

# Bounds each wait for the workflow to catch up, so a broken one fails instead of hanging.
BOUND = 30


class Tickets:
    """Stand-in ticket side: numbered keys, the signals it got, the tickets that closed."""

    def __init__(self) -> None:
        self.opened: list[str] = []
        self.signalled: list[tuple[str, str]] = []
        self.closed: set[str] = set()

    @activity.defn(name=OPEN_ALARM_TICKET_ACTIVITY)
    async def open_ticket(self, request: AlarmTicketInput) -> AlarmTicket:
        key = f"DA-{len(self.opened) + 1}"
        self.opened.append(request.report.summary.type)
        return AlarmTicket(ticket_key=key)

    @activity.defn(name=SIGNAL_ALARM_TICKET_ACTIVITY)
    async def signal_ticket(self, request: AlarmTicketInput) -> AlarmTicket:
        assert request.ticket_key is not None
        if request.ticket_key in self.closed:
            return AlarmTicket(ticket_key=request.ticket_key, delivered=False)
        self.signalled.append((request.ticket_key, request.report.summary.type))
        return AlarmTicket(ticket_key=request.ticket_key)


@pytest.fixture(scope="module")
async def env() -> AsyncIterator[WorkflowEnvironment]:
    environment = await time_skipping_env()
    try:
        yield environment
    finally:
        await environment.shutdown()


def report(kind: AlarmKind = "anomaly", point: str = "vibration") -> AlarmReport:
    summary = alarm_summary(pump(), kind, point, curve(2.0, 2.4), 0.7)
    return AlarmReport(summary=summary, snapshot=snapshot_of(pump(), [], taken_at=summary.last_at))


async def send(
    client: Client, queue: str, device_id: str, alarm: AlarmReport
) -> WorkflowHandle[Any, Any]:
    """Signal-with-start, as the edge does."""
    return await client.start_workflow(
        DEVICE_ALARMS_WORKFLOW,
        DeviceAlarmsInput(device_id=device_id, dedupe_window=timedelta(minutes=30)),
        id=alarms_workflow_id(device_id),
        task_queue=queue,
        start_signal=ALARM_SIGNAL,
        start_signal_args=[alarm],
    )


async def settled(handle: WorkflowHandle[Any, Any], expected: dict[str, str]) -> None:
    """Query the open alarms until they are `expected` (the workflow handles reports in turn)."""
    async with asyncio.timeout(BOUND):
        while True:
            alarms = await handle.query("open_alarms")
            if {a["type"]: a["ticket_key"] for a in alarms} == expected:
                return
            await asyncio.sleep(0.05)


async def test_alarms_dedupe_a_closed_ticket_is_dropped_and_a_quiet_device_ends(
    env: WorkflowEnvironment,
) -> None:
    tickets, queue, device = Tickets(), f"alarms-{uuid.uuid4().hex[:8]}", "pump-1"
    async with Worker(
        env.client,
        task_queue=queue,
        workflows=[DeviceAlarmsWorkflow],
        activities=[tickets.open_ticket, tickets.signal_ticket],
    ):
        handle = await send(env.client, queue, device, report())
        await send(env.client, queue, device, report())
        await send(env.client, queue, device, report("threshold_high"))
        await settled(handle, {"anomaly:vibration": "DA-1", "threshold_high:vibration": "DA-2"})
        assert tickets.opened == ["anomaly:vibration", "threshold_high:vibration"]
        assert tickets.signalled == [("DA-1", "anomaly:vibration")]

        # DA-1 closed: the next anomaly opens a new ticket, and DA-1 leaves the open list.
        tickets.closed.add("DA-1")
        await send(env.client, queue, device, report())
        await settled(handle, {"anomaly:vibration": "DA-3", "threshold_high:vibration": "DA-2"})

        # Thirty quiet minutes later no alarm is open and the workflow has ended.
        await handle.result()
        assert len(tickets.opened) == 3
