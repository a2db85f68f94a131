"""Device snapshots as ticket evidence, on the time-skipping server with a real Modbus device.

The ticket worker serves its queue (the ticket's and the snapshot child's workflows, the device
lookup); the edge worker serves `edge-local` with the snapshot activity against a pymodbus
server on 127.0.0.1, so each read really crosses from the ticket's queue to the device's site,
and the projection stores the snapshot with the ticket.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from domain.definitions import ProcessDefinition
from domain.devices import Device, ModbusPoint, Snapshot
from domain.messages import ClaimInput, StartTicketInput, UnclaimInput
from domain.ticket import TaskStatus, TicketStatus
from store.devices import insert_device
from store.models import DeviceSnapshotRow
from tests.activities.devices.servers import ModbusDevice, modbus_device
from tests.builders import REQUESTER
from tests.dbutil import migrated_sessions, sqlite_url
from tests.devstack_util import HOST, refusing_socket
from tests.domain.processes import inclusive, process, service, stage
from tests.temporal_env import time_skipping_env
from tests.workflows.conftest import Stack
from tests.workflows.test_automated_stages import (
    DESK,
    Handle,
    events,
    projected_types,
    status_is,
    until,
    work,
)
from ticketflow.temporal_client import DATA_CONVERTER
from workers.edge import build_edge_worker
from workers.tickets import build_ticket_worker
from workflows.ticket import TicketWorkflow

SITE = "local"


def press(endpoint: str, device_id: str = "press-7") -> Device:
    """A Modbus device with a scaled holding register and a coil."""
    return Device(
        id=device_id,
        site=SITE,
        model="P7",
        protocol="modbus-tcp",
        endpoint=endpoint,
        points=[
            ModbusPoint(name="temp", register="holding", address=20, scale=0.5, unit="°C"),
            ModbusPoint(name="run", register="coil", address=20, type="bool"),
        ],
    )


@pytest.fixture(scope="module")
async def modbus() -> AsyncIterator[ModbusDevice]:
    """A pymodbus server on a free port."""
    async with modbus_device() as device:
        yield device


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[tuple[WorkflowEnvironment, Stack]]:
    """A time-skipping server, the ticket worker and the site's edge worker."""
    environment = await time_skipping_env()
    queue = f"evidence-{uuid.uuid4().hex[:8]}"
    try:
        async with (
            migrated_sessions(sqlite_url(tmp_path)) as sessions,
            build_ticket_worker(
                client=environment.client, task_queue=queue, sessions=sessions, data_dir=tmp_path
            ),
            build_edge_worker(client=environment.client, site=SITE),
        ):
            yield environment, Stack(client=environment.client, task_queue=queue, sessions=sessions)
    finally:
        await environment.shutdown()


async def register(stack: Stack, device: Device) -> None:
    """Put the device in the registry, as `POST /devices` would."""
    async with stack.sessions() as session, session.begin():
        await insert_device(
            session=session, device=device, registered_by="owner", now=datetime.now(UTC)
        )


async def file(stack: Stack, definition: ProcessDefinition, intake: dict[str, Any]) -> Handle:
    """Start a ticket of this definition."""
    key = f"EV-{uuid.uuid4().hex[:6]}"
    return await stack.client.start_workflow(
        TicketWorkflow.run,
        StartTicketInput(key=key, definition=definition, intake=intake, requester=REQUESTER),
        id=key,
        task_queue=stack.task_queue,
    )


async def stored(stack: Stack, key: str) -> list[Snapshot]:
    """The snapshots the store holds for the ticket, oldest first."""
    async with stack.sessions() as session:
        rows = await session.scalars(
            select(DeviceSnapshotRow)
            .where(DeviceSnapshotRow.ticket_key == key)
            .order_by(DeviceSnapshotRow.id)
        )
        return [Snapshot.model_validate(row.document) for row in rows]


SNAPSHOT_STAGE = process(
    stage("inspect"),
    stage(
        "reading",
        kind="service",
        depends_on=["inspect"],
        service=service("device.snapshot", params={"device": "=intake.device_id"}),
        gateway=inclusive(("hot", "stages.reading.data.points.temp.value > 20.0")),
    ),
    stage("hot"),
)


async def test_a_snapshot_stage_reads_the_device_on_its_edge_queue_and_keeps_the_evidence(
    env: tuple[WorkflowEnvironment, Stack], modbus: ModbusDevice
) -> None:
    _environment, stack = env
    await modbus.write("holding", 20, [43])
    await modbus.write("coil", 20, [True])
    await register(stack, press(modbus.endpoint))
    handle = await file(stack, SNAPSHOT_STAGE, {"device_id": "press-7"})
    await until(handle, lambda s: bool(events(s, "device_snapshot_taken")))
    await work(handle, "inspect")
    state = await until(handle, status_is("hot", TaskStatus.OPEN))
    # The creation snapshot, then the stage's: the intake names the device both times.
    (kept_at_creation, kept) = await stored(stack, handle.id)
    data = state.tasks["reading"].data
    assert data == {
        "device_id": "press-7",
        "taken_at": kept.taken_at.isoformat(),
        "sha256": kept.sha256,
        "good": 2,
        "bad": 0,
        "points": {
            "temp": {"value": 21.5, "unit": "°C", "quality": "good"},
            "run": {"value": True, "unit": "", "quality": "good"},
        },
    }
    taken = events(state, "device_snapshot_taken")
    assert [(e.get("stage"), e["sha256"], e["good"], e["bad"]) for e in taken] == [
        (None, kept_at_creation.sha256, 2, 0),
        ("reading", kept.sha256, 2, 0),
    ]
    assert events(state, "service_completed")[0]["output"] == data
    types = await projected_types(stack, handle.id)
    assert types.count("device_snapshot_taken") == 2
    assert types.index("device_snapshot_taken") < types.index("service_started")
    # The history the patched workflow wrote replays on it.
    replayer = Replayer(workflows=[TicketWorkflow], data_converter=DATA_CONVERTER)
    await replayer.replay_workflow(await handle.fetch_history())


async def test_an_unreachable_device_completes_the_stage_with_bad_readings(
    env: tuple[WorkflowEnvironment, Stack],
) -> None:
    _environment, stack = env
    with refusing_socket() as holder:
        await register(stack, press(f"{HOST}:{holder.getsockname()[1]}", "press-9"))
        definition = process(
            stage(
                "reading",
                kind="service",
                service=service("device.snapshot", params={"device": "press-9"}),
            ),
            stage("after", depends_on=["reading"]),
        )
        handle = await file(stack, definition, {})
        state = await until(handle, status_is("after", TaskStatus.OPEN))
    reading = state.tasks["reading"]
    assert reading.status == TaskStatus.DONE
    assert reading.error is None
    assert {p["quality"] for p in reading.data["points"].values()} == {"bad"}
    assert (reading.data["good"], reading.data["bad"]) == (0, 2)
    assert events(state, "service_failed") == []
    (kept,) = await stored(stack, handle.id)
    assert kept.sha256 == reading.data["sha256"]
    assert {r.reason for r in kept.readings} == {kept.readings[0].reason}
    assert (kept.readings[0].reason or "").startswith("unreachable: press-9: ")


async def test_an_unknown_device_fails_the_stage_into_its_queue(
    env: tuple[WorkflowEnvironment, Stack],
) -> None:
    _environment, stack = env
    definition = process(
        stage("reading", kind="service", service=service("device.snapshot", params={"device": "x"}))
    )
    handle = await file(stack, definition, {})
    state = await until(handle, status_is("reading", TaskStatus.OPEN))
    (failed,) = events(state, "service_failed")
    assert failed["error"] == "DeviceNotFound: no registered device 'x'"
    assert await stored(stack, handle.id) == []


async def test_a_ticket_naming_its_device_is_read_at_creation_before_triage(
    env: tuple[WorkflowEnvironment, Stack], modbus: ModbusDevice
) -> None:
    _environment, stack = env
    await modbus.write("holding", 20, [10])
    await register(stack, press(modbus.endpoint, "press-8"))
    triaged = process(stage("fix"), triage={"dispatcher_group": "desk", "routed_stages": ["fix"]})
    handle = await file(stack, triaged, {"device_id": "press-8"})
    state = await until(handle, lambda s: bool(events(s, "triaged")))
    types = [e.type for e in state.events]
    assert types.index("device_snapshot_taken") < types.index("triaged")
    (kept,) = await stored(stack, handle.id)
    assert events(state, "device_snapshot_taken") == [
        {
            "device_id": "press-8",
            "sha256": kept.sha256,
            "taken_at": kept.taken_at.isoformat(),
            "good": 2,
            "bad": 0,
        }
    ]
    assert state.intake_snapshot is not None
    assert state.intake_snapshot["points"]["temp"]["value"] == 5.0
    assert state.status == TicketStatus.OPEN


async def test_a_site_without_an_edge_worker_gives_the_unreachable_snapshot(
    env: tuple[WorkflowEnvironment, Stack], modbus: ModbusDevice
) -> None:
    _environment, stack = env
    elsewhere = press(modbus.endpoint, "press-far").model_copy(update={"site": "plant-z"})
    await register(stack, elsewhere)
    handle = await file(stack, process(stage("fix")), {"device_id": "press-far"})
    state = await until(handle, lambda s: bool(events(s, "device_snapshot_taken")))
    (taken,) = events(state, "device_snapshot_taken")
    assert (taken["good"], taken["bad"]) == (0, 2)
    (kept,) = await stored(stack, handle.id)
    assert kept.readings[0].reason == (
        "unreachable: no edge worker took the snapshot from edge-plant-z within 5 s"
    )


async def test_each_claim_of_a_snapshot_on_claim_stage_reads_the_intakes_device(
    env: tuple[WorkflowEnvironment, Stack], modbus: ModbusDevice
) -> None:
    _environment, stack = env
    await register(stack, press(modbus.endpoint, "press-6"))
    definition = process(stage("inspect"), stage("repair", snapshot_on_claim=True))
    handle = await file(stack, definition, {"device_id": "press-6"})
    await until(handle, lambda s: len(events(s, "device_snapshot_taken")) == 1)
    # Claiming a stage without the mark reads nothing.
    await handle.execute_update(TicketWorkflow.claim, ClaimInput(stage_key="inspect", actor=DESK))
    await modbus.write("holding", 20, [60])
    await handle.execute_update(TicketWorkflow.claim, ClaimInput(stage_key="repair", actor=DESK))
    state = await until(handle, lambda s: len(events(s, "device_snapshot_taken")) == 2)
    # Started again by someone else later: read again, with what the device says by then.
    await handle.execute_update(
        TicketWorkflow.unclaim, UnclaimInput(stage_key="repair", actor=DESK)
    )
    await modbus.write("holding", 20, [80])
    await handle.execute_update(TicketWorkflow.claim, ClaimInput(stage_key="repair", actor=DESK))
    state = await until(handle, lambda s: len(events(s, "device_snapshot_taken")) == 3)
    _creation, first, second = events(state, "device_snapshot_taken")
    assert (first["stage"], second["stage"]) == ("repair", "repair")
    kept = await stored(stack, handle.id)
    assert [k.sha256 for k in kept[1:]] == [first["sha256"], second["sha256"]]
    temps = [next(r.value for r in k.readings if r.point == "temp") for k in kept[1:]]
    assert temps == [30.0, 40.0]
    types = await projected_types(stack, handle.id)
    assert types.count("device_snapshot_taken") == 3
    replayer = Replayer(workflows=[TicketWorkflow], data_converter=DATA_CONVERTER)
    await replayer.replay_workflow(await handle.fetch_history())


async def test_a_claim_on_a_ticket_without_a_device_reads_nothing(
    env: tuple[WorkflowEnvironment, Stack],
) -> None:
    _environment, stack = env
    handle = await file(stack, process(stage("repair", snapshot_on_claim=True)), {})
    await handle.execute_update(TicketWorkflow.claim, ClaimInput(stage_key="repair", actor=DESK))
    state = await until(handle, status_is("repair", TaskStatus.CLAIMED))
    assert events(state, "device_snapshot_taken") == []
    assert await stored(stack, handle.id) == []
