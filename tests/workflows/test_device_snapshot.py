"""DeviceSnapshotWorkflow on the time-skipping server: the ticket worker runs it, an edge
worker serves its activity against a real pymodbus server, and a device that cannot be read
still gives a snapshot."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle

from domain.device_reading import SNAPSHOT_RETRY
from domain.device_snapshot import (
    DEVICE_SNAPSHOT_WORKFLOW,
    DeviceSnapshotInput,
    DeviceSnapshotResult,
    snapshot_workflow_id,
)
from domain.devices import Device, ModbusPoint, canonical_json, edge_queue
from tests.activities.devices.servers import ModbusDevice, modbus_device
from tests.devstack_util import HOST, refusing_socket
from tests.workflows.conftest import Stack
from workers.edge import build_edge_worker


@pytest.fixture(scope="module")
async def modbus() -> AsyncIterator[ModbusDevice]:
    """A pymodbus server on a free port."""
    async with modbus_device() as device:
        yield device


@pytest.fixture
def site() -> str:
    """A site of this test's own (its edge queue is nobody else's)."""
    return f"t{uuid.uuid4().hex[:8]}"


@pytest.fixture
async def edge(stack: Stack, site: str) -> AsyncIterator[str]:
    """An edge worker for the site; yields the site."""
    async with build_edge_worker(client=stack.client, site=site):
        yield site


def press(site: str, endpoint: str) -> Device:
    """A Modbus device with a scaled holding register and a coil."""
    return Device(
        id="press-7",
        site=site,
        model="P7",
        protocol="modbus-tcp",
        endpoint=endpoint,
        unit_id=1,
        points=[
            ModbusPoint(name="temp", register="holding", address=20, scale=0.5, unit="°C"),
            ModbusPoint(name="run", register="coil", address=20, type="bool"),
        ],
        version=4,
    )


async def start(
    stack: Stack, device: Device, *, with_curves: bool = False
) -> WorkflowHandle[object, DeviceSnapshotResult]:
    """Start a snapshot workflow on the ticket worker's queue."""
    return await stack.client.start_workflow(
        DEVICE_SNAPSHOT_WORKFLOW,
        DeviceSnapshotInput(device=device, with_curves=with_curves),
        id=snapshot_workflow_id(device.id, uuid.uuid4().hex),
        task_queue=stack.task_queue,
        result_type=DeviceSnapshotResult,
    )


async def test_a_reachable_device_gives_its_sealed_snapshot(
    stack: Stack, edge: str, modbus: ModbusDevice
) -> None:
    await modbus.write("holding", 20, [43])
    await modbus.write("coil", 20, [True])
    device = press(edge, f"tcp://{modbus.endpoint}")
    result = await (await start(stack, device)).result()
    snapshot = result.snapshot
    body = snapshot.model_dump(mode="json", exclude={"sha256"})
    assert (
        result.unreachable,
        (snapshot.device_id, snapshot.device_version, snapshot.site),
        [(r.point, r.value, r.unit, r.quality) for r in snapshot.readings],
        hashlib.sha256(canonical_json(body)).hexdigest(),
    ) == (
        None,
        ("press-7", 4, edge),
        [("temp", 21.5, "°C", "good"), ("run", True, "", "good")],
        snapshot.sha256,
    )


async def test_the_edge_keeps_its_windows_between_snapshots(
    stack: Stack, edge: str, modbus: ModbusDevice
) -> None:
    device = press(edge, f"tcp://{modbus.endpoint}")
    curves = []
    for raw in (40, 42):
        await modbus.write("holding", 20, [raw])
        result = await (await start(stack, device, with_curves=True)).result()
        curves.append([sample.value for sample in result.snapshot.curves["temp"]])
    assert curves == [[20.0], [20.0, 21.0]]


async def test_an_unreachable_device_gives_the_all_bad_snapshot_after_the_retries(
    stack: Stack, edge: str
) -> None:
    with refusing_socket() as holder:
        device = press(edge, f"tcp://{HOST}:{holder.getsockname()[1]}")
        handle = await start(stack, device)
        result = await handle.result()
    attempts = [
        event.activity_task_started_event_attributes.attempt
        async for event in handle.fetch_history_events()
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED
    ]
    snapshot = result.snapshot
    assert result.unreachable is not None
    assert result.unreachable.startswith("press-7: ")
    assert (
        attempts,
        [(r.point, r.value, r.quality, r.reason) for r in snapshot.readings],
        snapshot.device_version,
    ) == (
        [SNAPSHOT_RETRY.maximum_attempts],
        [
            ("temp", None, "bad", f"unreachable: {result.unreachable}"),
            ("run", None, "bad", f"unreachable: {result.unreachable}"),
        ],
        4,
    )
    assert len(snapshot.sha256) == 64


async def test_a_site_without_an_edge_worker_gives_the_unreachable_snapshot(
    stack: Stack, site: str
) -> None:
    handle = await start(stack, press(site, "tcp://127.0.0.1:502"))
    result = await handle.result()
    expected = f"no edge worker took the snapshot from {edge_queue(site)} within 5 s"
    assert result.unreachable == expected
    assert {r.reason for r in result.snapshot.readings} == {f"unreachable: {expected}"}
