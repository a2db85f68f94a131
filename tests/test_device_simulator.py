"""The device simulator: real pymodbus and asyncua servers, read back by their own clients."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import statistics
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest
import yaml
from asyncua.client.client import Client
from pymodbus.client import AsyncModbusTcpClient

from domain.device_alarms import AlarmSummary
from domain.device_checks import device_problems
from domain.devices import Device, ModbusPoint, OpcuaPoint, Sample
from tests.devstack_util import HOST, free_port
from ticketflow.cli import build_parser
from ticketflow.device_simulator import DRIFT_PER_MINUTE as DRIFT_PER_MINUTE_DEFAULT
from ticketflow.device_simulator import (
    STEADY_MINUTES,
    VIBRATION_HIGH,
    DeviceSimulator,
    DriftingPump,
    SimulatorError,
    devices_yaml,
    simulated_devices,
)
from ticketflow.settings import Settings
from triage.device_anomaly import DeviceAnomalyDetector

# A tick every 50 ms, each raising the vibration by 0.5 mm/s: ten times its noise.
INTERVAL = 0.05
DRIFT_PER_MINUTE = 0.5 * 60 / INTERVAL
# Reads half a tick apart; a few ticks would do, the rest is slack for a busy machine.
ATTEMPTS = 200
T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
async def simulator() -> AsyncIterator[DeviceSimulator]:
    """Both simulated pumps on free ports, ticking fast."""
    async with DeviceSimulator(
        modbus_port=free_port(),
        opcua_port=free_port(),
        drift_per_minute=DRIFT_PER_MINUTE,
        steady_minutes=0,
        interval=INTERVAL,
    ) as running:
        yield running


def device(simulator: DeviceSimulator, protocol: str) -> Device:
    """The printed registry entry of one simulated pump, read back from its YAML."""
    entries = yaml.safe_load(devices_yaml(simulator.devices()))
    (found,) = [Device.model_validate(e) for e in entries if e["protocol"] == protocol]
    return found


async def changed(read: Callable[[], Awaitable[float]], before: float) -> float:
    """The next value `read` returns that differs from `before`."""
    for _ in range(ATTEMPTS):
        value = await read()
        if value != before:
            return value
        await asyncio.sleep(INTERVAL / 2)
    raise AssertionError(f"the value stayed {before}")


async def test_the_modbus_pump_serves_a_rising_vibration(simulator: DeviceSimulator) -> None:
    pump = device(simulator, "modbus-tcp")
    points = {p.name: p for p in pump.points if isinstance(p, ModbusPoint)}
    host, port = pump.endpoint.removeprefix("tcp://").rsplit(":", 1)
    client = AsyncModbusTcpClient(host, port=int(port), timeout=2, retries=0)
    assert await client.connect()
    try:

        async def holding(name: str, count: int, data_type: AsyncModbusTcpClient.DATATYPE) -> float:
            reply = await client.read_holding_registers(
                points[name].address, count=count, device_id=pump.unit_id or 0
            )
            assert not reply.isError(), reply
            value = client.convert_from_registers(reply.registers, data_type)
            assert isinstance(value, int | float)
            return float(value) * points[name].scale

        async def vibration() -> float:
            return await holding("vibration", 2, client.DATATYPE.FLOAT32)

        first = await vibration()
        second = await changed(vibration, first)
        temperature = await holding("temperature", 1, client.DATATYPE.INT16)
        coil = await client.read_coils(
            points["running"].address, count=1, device_id=pump.unit_id or 0
        )
    finally:
        client.close()
    assert second > first
    assert 44.0 < temperature < 46.0
    assert coil.bits[0] is True


async def test_the_opcua_pump_serves_a_rising_vibration(simulator: DeviceSimulator) -> None:
    pump = device(simulator, "opcua")
    nodes = {p.name: p.node_id for p in pump.points if isinstance(p, OpcuaPoint)}
    async with Client(pump.endpoint, timeout=5) as client:
        vibration_node = client.get_node(nodes["vibration"])

        async def vibration() -> float:
            value = await vibration_node.read_value()
            assert isinstance(value, float)
            return value

        first = await vibration()
        second = await changed(vibration, first)
        temperature = await client.get_node(nodes["temperature"]).read_data_value()
    assert second > first
    assert temperature.Value is not None
    assert 44.0 < temperature.Value.Value < 46.0
    assert temperature.SourceTimestamp is not None


def test_the_yaml_registers_both_pumps_on_the_local_site(simulator: DeviceSimulator) -> None:
    modbus, opcua = device(simulator, "modbus-tcp"), device(simulator, "opcua")
    assert (modbus.site, opcua.site) == ("local", "local")
    assert modbus.endpoint == f"tcp://{HOST}:{simulator.modbus_port}"
    assert opcua.endpoint.startswith(f"opc.tcp://{HOST}:{simulator.opcua_port}/")
    assert [p.name for p in modbus.points] == ["vibration", "temperature", "running"]
    assert [p.node_id for p in opcua.points if isinstance(p, OpcuaPoint)] == [
        "ns=2;s=Pump1.Vibration",
        "ns=2;s=Pump1.Temperature",
    ]
    assert modbus.thresholds["vibration"].high == opcua.thresholds["vibration"].high == 8.0


@pytest.mark.parametrize("taken", ["modbus", "opcua"])
async def test_a_taken_port_is_refused_and_leaves_nothing_listening(taken: str) -> None:
    with socket.socket() as holder:
        holder.bind((HOST, 0))
        holder.listen()
        held, other = holder.getsockname()[1], free_port()
        ports = {"modbus_port": held, "opcua_port": other}
        if taken == "opcua":
            ports = {"modbus_port": other, "opcua_port": held}
        busy = DeviceSimulator(**ports)
        with pytest.raises(SimulatorError, match=f"{held}"):
            await busy.start()
    with socket.socket() as probe:
        assert probe.connect_ex((HOST, other)) != 0, "the other server was stopped"


def test_the_command_prints_the_entries_and_stops_cleanly_on_ctrl_c() -> None:
    modbus_port, opcua_port = free_port(), free_port()
    command = [sys.executable, "-m", "ticketflow", "devices", "simulate"]
    ports = ["--modbus-port", str(modbus_port), "--opcua-port", str(opcua_port)]
    with subprocess.Popen(
        [*command, *ports, "--drift-per-minute", "0.2", "--steady-minutes", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    ) as process:
        assert process.stderr is not None
        for line in process.stderr:
            if "Ctrl-C stops" in line:
                break
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    entries = yaml.safe_load(out)
    endpoints = [Device.model_validate(e).endpoint for e in entries]
    assert endpoints == [
        f"tcp://{HOST}:{modbus_port}",
        f"opc.tcp://{HOST}:{opcua_port}/ticketflow/simulator/",
    ]
    with socket.socket() as probe:
        probe.bind((HOST, modbus_port))


@pytest.mark.parametrize("port", ["0", "65536", "-1", "http"])
def test_the_command_refuses_what_is_not_a_port(port: str) -> None:
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(["devices", "simulate", "--opcua-port", port])
    assert exit_.value.code == 2


def test_a_pump_runs_steadily_then_climbs_at_its_drift() -> None:
    pump = DriftingPump(drift_per_minute=1.0, steady_minutes=2, seed=0)
    steady = [pump.step(1.0)[0] for _ in range(120)]
    climbing = [pump.step(1.0)[0] for _ in range(120)]
    assert abs(statistics.fmean(steady) - 2.0) < 0.05
    # Two minutes at 1 mm/s a minute after the steady part: from 2.0 to 4.0, 3.0 on average.
    assert abs(statistics.fmean(climbing) - 3.0) < 0.05


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_detector_trained_on_a_steady_start_catches_the_climb(seed: int) -> None:
    pump = DriftingPump(drift_per_minute=DRIFT_PER_MINUTE_DEFAULT, seed=seed)
    curve = [Sample(at=T0 + timedelta(seconds=i), value=pump.step(1.0)[0]) for i in range(60 * 60)]
    modbus = simulated_devices(modbus_port=5020, opcua_port=4840)[0]
    normal = int(STEADY_MINUTES * 60)
    detector = DeviceAnomalyDetector(modbus)
    assert detector.fit({"vibration": curve[:normal]}) == {"vibration"}
    alarms: list[AlarmSummary] = []
    for end in range(normal + 30, len(curve), 30):
        if alarms := detector.check({"vibration": curve[end - normal : end]}):
            break
    assert [a.type for a in alarms] == ["anomaly:vibration"]
    assert alarms[0].trigger["vibration"] < 3.0 < VIBRATION_HIGH


def test_the_printed_entries_pass_the_registry_checks_as_they_are(
    simulator: DeviceSimulator,
) -> None:
    entries = yaml.safe_load(devices_yaml(simulator.devices()))
    assert isinstance(entries, list)
    for entry in entries:
        assert device_problems(entry, allowed_hosts=Settings().device_hosts) == []
