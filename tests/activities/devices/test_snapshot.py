"""The snapshot activity in Temporal's ActivityEnvironment, against real servers."""

from __future__ import annotations

import hashlib
from functools import partial
from typing import Any

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.devices.reader import reader_for
from activities.devices.snapshot import DeviceSnapshots
from domain.device_reading import DEVICE_UNREACHABLE
from domain.devices import Device, ModbusPoint, OpcuaPoint, SnapshotInput, canonical_json
from tests.activities.devices.servers import ModbusDevice, OpcuaDevice, misbehaving
from tests.devstack_util import HOST, refusing_socket


def modbus_device(endpoint: str) -> Device:
    """A Modbus device with points of two kinds (two requests)."""
    return Device(
        id="press-7",
        site="plant-a",
        model="P7",
        protocol="modbus-tcp",
        endpoint=endpoint,
        points=[
            ModbusPoint(name="temp", register="holding", address=20, scale=0.5, unit="°C"),
            ModbusPoint(name="run", register="coil", address=20, type="bool"),
        ],
        version=3,
    )


def heartbeats(env: ActivityEnvironment) -> list[Any]:
    """Record the activity's heartbeats."""
    seen: list[Any] = []
    env.on_heartbeat = lambda *details: seen.append(details)
    return seen


async def test_a_modbus_snapshot_heartbeats_and_is_sealed(modbus: ModbusDevice) -> None:
    await modbus.write("holding", 20, [43])
    env = ActivityEnvironment()
    beats = heartbeats(env)
    snapshot = await env.run(
        DeviceSnapshots().snapshot, SnapshotInput(device=modbus_device(modbus.endpoint))
    )
    body = snapshot.model_dump(mode="json", exclude={"sha256"})
    assert (
        [(r.point, r.value, r.quality) for r in snapshot.readings],
        (snapshot.device_id, snapshot.device_version, snapshot.site, snapshot.curves),
        len(beats),
        hashlib.sha256(canonical_json(body)).hexdigest(),
    ) == (
        [("temp", 21.5, "good"), ("run", False, "good")],
        ("press-7", 3, "plant-a", {}),
        3,
        snapshot.sha256,
    )


async def test_an_opcua_snapshot_with_curves(opcua: OpcuaDevice) -> None:
    device = Device(
        id="press-9",
        site="plant-a",
        model="P9",
        protocol="opcua",
        endpoint=opcua.endpoint,
        points=[OpcuaPoint(name="temp", node_id=f"ns={opcua.namespace};s=Press.Temp")],
    )
    activity = DeviceSnapshots()
    env = ActivityEnvironment()
    beats = heartbeats(env)
    first = await env.run(activity.snapshot, SnapshotInput(device=device, with_curves=True))
    again = await env.run(activity.snapshot, SnapshotInput(device=device, with_curves=True))
    body = again.model_dump(mode="json", exclude={"sha256"})
    # The server keeps the node's source time while its value stays: still one sample.
    assert (
        [s.value for s in first.curves["temp"]],
        [s.value for s in again.curves["temp"]],
        len(beats),
        hashlib.sha256(canonical_json(body)).hexdigest(),
    ) == ([21.5], [21.5], 6, again.sha256)


async def test_an_unreachable_device_fails_retryably() -> None:
    with refusing_socket() as holder:
        device = modbus_device(f"{HOST}:{holder.getsockname()[1]}")
        with pytest.raises(ApplicationError) as failure:
            await ActivityEnvironment().run(
                DeviceSnapshots().snapshot, SnapshotInput(device=device)
            )
    assert (failure.value.type, failure.value.non_retryable) == (DEVICE_UNREACHABLE, False)


async def test_curves_follow_the_values_read(modbus: ModbusDevice) -> None:
    device = modbus_device(modbus.endpoint)
    activity, env = DeviceSnapshots(), ActivityEnvironment()
    curves = []
    for raw in (40, 42, 44):
        await modbus.write("holding", 20, [raw])
        snapshot = await env.run(activity.snapshot, SnapshotInput(device=device, with_curves=True))
        curves.append([s.value for s in snapshot.curves["temp"]])
    assert curves == [[20.0], [20.0, 21.0], [20.0, 21.0, 22.0]]


async def test_a_silent_device_fails_retryably_and_names_itself() -> None:
    async with misbehaving(silent=True) as port:
        device = modbus_device(f"{HOST}:{port}")
        activity = DeviceSnapshots(readers=partial(reader_for, timeout=0.2))
        with pytest.raises(ApplicationError) as failure:
            await ActivityEnvironment().run(activity.snapshot, SnapshotInput(device=device))
    assert (failure.value.type, failure.value.non_retryable, failure.value.message[:9]) == (
        DEVICE_UNREACHABLE,
        False,
        "press-7: ",
    )
