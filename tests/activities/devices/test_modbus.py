"""The Modbus reader against pymodbus' own server on 127.0.0.1."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from activities.devices.reader import DeviceUnreachableError, reader_for
from domain.devices import Device, ModbusPoint, Order, Reading, ValueType
from tests.activities.devices.servers import ModbusDevice, misbehaving, registers_of
from tests.devstack_util import HOST, refusing_socket

SAMPLES: dict[ValueType, Any] = {
    "int16": -12345,
    "uint16": 54321,
    "int32": -123456789,
    "uint32": 3123456789,
    "float32": -1234.5,
    "bool": True,
}
ORDERS: list[tuple[Order, Order]] = list(itertools.product(["big", "little"], repeat=2))


def device(endpoint: str, points: list[ModbusPoint]) -> Device:
    """A Modbus device at `endpoint` with these points."""
    return Device(
        id="press-7",
        site="plant-a",
        model="P7",
        protocol="modbus-tcp",
        endpoint=endpoint,
        unit_id=1,
        points=points,
    )


def values(readings: list[Reading]) -> dict[str, Any]:
    """Each reading's value, or its reason when bad."""
    return {r.point: r.value if r.quality == "good" else r.reason for r in readings}


async def test_every_type_and_order_reads_back_as_written(modbus: ModbusDevice) -> None:
    points, address = [], 0
    for (type_, value), (byte_order, word_order) in itertools.product(SAMPLES.items(), ORDERS):
        registers = registers_of(value, type_, byte_order, word_order)
        await modbus.write("holding", address, registers)
        name = f"{type_}_{byte_order}_{word_order}"
        points.append(
            ModbusPoint(
                name=name,
                register="holding",
                address=address,
                type=type_,
                byte_order=byte_order,
                word_order=word_order,
            )
        )
        address += len(registers)
    readings = await reader_for(device(modbus.endpoint, points)).read()
    assert values(readings) == {p.name: SAMPLES[p.type] for p in points}


async def test_a_mixed_map_reads_in_one_request_per_kind(modbus: ModbusDevice) -> None:
    await modbus.write("input", 10, [215, *registers_of(-40, "int16", "big", "big")])
    await modbus.write("holding", 60, registers_of(7.25, "float32", "big", "little"))
    await modbus.write("coil", 3, [True, False, True])
    await modbus.write("discrete", 90, [True])
    points = [
        ModbusPoint(name="temp", register="input", address=10, scale=0.1, unit="°C"),
        ModbusPoint(name="inlet", register="input", address=11, type="int16", offset=273.15),
        ModbusPoint(
            name="flow", register="holding", address=60, type="float32", word_order="little"
        ),
        ModbusPoint(name="run", register="coil", address=3, type="bool"),
        ModbusPoint(name="fault", register="coil", address=4, type="bool"),
        ModbusPoint(name="door", register="coil", address=5, type="bool"),
        ModbusPoint(name="alarm", register="discrete", address=90, type="bool"),
    ]
    modbus.requests.clear()
    readings = await reader_for(device(modbus.endpoint, points)).read()
    assert (
        values(readings),
        (readings[0].unit, readings[0].quality, readings[0].source_time is not None),
        readings[0].server_time,
        sorted(modbus.requests),
    ) == (
        {
            "temp": pytest.approx(21.5),
            "inlet": pytest.approx(233.15),
            "flow": 7.25,
            "run": True,
            "fault": False,
            "door": True,
            "alarm": True,
        },
        ("°C", "good", True),
        None,
        ["1:3+3", "2:90+1", "3:60+2", "4:10+2"],
    )


async def test_a_point_beyond_the_datastore_is_bad_with_the_exception(modbus: ModbusDevice) -> None:
    await modbus.write("holding", 98, [42, 43])
    points = [
        ModbusPoint(name="last", register="holding", address=99),
        ModbusPoint(name="beyond", register="holding", address=101),
        ModbusPoint(name="before", register="holding", address=98),
    ]
    readings = await reader_for(device(modbus.endpoint, points)).read()
    assert values(readings) == {"last": 43, "beyond": "ILLEGAL_ADDRESS (2)", "before": 42}


async def test_a_wrong_point_map_gives_bad_readings_not_an_error(modbus: ModbusDevice) -> None:
    points = [
        ModbusPoint(name="speed", register="input", address=4000, type="uint32"),
        ModbusPoint(name="torque", register="input", address=4002, type="float32"),
        ModbusPoint(name="mode", register="coil", address=7, type="int16"),
        ModbusPoint(name="end", register="holding", address=65535, type="int32"),
    ]
    readings = await reader_for(device(modbus.endpoint, points)).read()
    assert values(readings) == {
        "speed": "ILLEGAL_ADDRESS (2)",
        "torque": "ILLEGAL_ADDRESS (2)",
        "mode": "config: a coil is one bit, so its type must be bool, not int16",
        "end": "config: int32 at 65535 runs past the last address 65535",
    }


async def test_a_nan_register_is_a_bad_reading(modbus: ModbusDevice) -> None:
    await modbus.write("holding", 80, [0x7FC0, 0x0000])
    points = [ModbusPoint(name="flow", register="holding", address=80, type="float32")]
    readings = await reader_for(device(modbus.endpoint, points)).read()
    assert values(readings) == {"flow": "not finite: nan"}


async def test_a_bad_endpoint_is_a_configuration_error() -> None:
    points = [ModbusPoint(name="temp", register="holding", address=0)]
    readings = await reader_for(device("opc.tcp://h:4840", points)).read()
    assert values(readings) == {
        "temp": "config: not a Modbus TCP endpoint (host:port): 'opc.tcp://h:4840'"
    }


POINTS = [
    ModbusPoint(name="a", register="holding", address=0),
    ModbusPoint(name="b", register="input", address=0),
]


@pytest.mark.timeout(10)
async def test_nothing_listening_raises_unreachable_without_waiting() -> None:
    with refusing_socket() as holder:
        port = holder.getsockname()[1]
        reader = reader_for(device(f"{HOST}:{port}", POINTS), timeout=60)
        with pytest.raises(DeviceUnreachableError, match="refused"):
            await reader.read()


async def test_a_connection_closed_by_the_device_raises_unreachable() -> None:
    async with misbehaving(silent=False) as port:
        with pytest.raises(DeviceUnreachableError, match="reading holding 0"):
            await reader_for(device(f"{HOST}:{port}", POINTS), timeout=2).read()


async def test_a_silent_device_raises_unreachable() -> None:
    async with misbehaving(silent=True) as port:
        with pytest.raises(DeviceUnreachableError, match="reading holding 0"):
            await reader_for(device(f"{HOST}:{port}", POINTS), timeout=0.2).read()


async def test_a_device_stopping_between_requests_raises_unreachable() -> None:
    from tests.activities.devices.servers import modbus_device

    calls = 0
    async with modbus_device() as own:

        def stop_after_first_request() -> None:
            nonlocal calls
            calls += 1
            if calls == 2:
                own.server.close()

        reader = reader_for(device(own.endpoint, POINTS), timeout=0.5)
        with pytest.raises(DeviceUnreachableError, match="reading input 0"):
            await reader.read(progress=stop_after_first_request)
