"""`ticketflow devices simulate`: a drifting pump over Modbus TCP and another over OPC UA.

Both serve on 127.0.0.1 through the protocol libraries' own servers (pymodbus, asyncua), so a
reader talks to them exactly as to a device in a plant. Each pump runs steadily at 2.0 mm/s of
vibration for its first minutes (a normal window to learn from), then the vibration climbs
slowly, with noise, towards the 8.0 mm/s limit in the registry entries printed for them; the
temperature holds around 45 °C. The values change every `interval` seconds.
"""

from __future__ import annotations

import asyncio
import logging
import random
import signal
import sys
from dataclasses import dataclass, field
from datetime import UTC
from types import TracebackType
from typing import Final, TextIO

import yaml
from asyncua import ua
from asyncua.common.node import Node
from asyncua.server.server import Server
from pymodbus.client import ModbusTcpClient
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from domain.devices import Device, ModbusPoint, OpcuaPoint, Threshold

HOST: Final = "127.0.0.1"
SITE: Final = "local"
MODBUS_PORT: Final = 5020
OPCUA_PORT: Final = 4840
DRIFT_PER_MINUTE: Final = 0.1
# As long as a device's default window: an edge that learns from its first window learns calm.
STEADY_MINUTES: Final = 5.0
VIBRATION_START: Final = 2.0
VIBRATION_NOISE: Final = 0.05
VIBRATION_HIGH: Final = 8.0
TEMPERATURE: Final = 45.0
TEMPERATURE_NOISE: Final = 0.2
TEMPERATURE_HIGH: Final = 80.0
TEMPERATURE_SCALE: Final = 0.1
UNIT_ID: Final = 1
# Holding registers 0-1 hold the float32 vibration, 2 the int16 temperature; coil 0 says
# whether the pump runs.
VIBRATION_REGISTER: Final = 0
TEMPERATURE_REGISTER: Final = 2
RUNNING_COIL: Final = 0
WRITE_REGISTERS: Final = 16  # Modbus function code: write multiple holding registers
OPCUA_PATH: Final = "/ticketflow/simulator/"
NAMESPACE_URI: Final = "urn:ticketflow:device-simulator"
NAMESPACE: Final = 2  # the first namespace a server registers after its own
VIBRATION_NODE: Final = "Pump1.Vibration"
TEMPERATURE_NODE: Final = "Pump1.Temperature"


class SimulatorError(Exception):
    """A simulated device could not start (its port is taken)."""


@dataclass
class DriftingPump:
    """One pump: steady for `steady_minutes`, then its vibration climbs `drift_per_minute`."""

    drift_per_minute: float
    steady_minutes: float = STEADY_MINUTES
    seed: int = 0
    elapsed_seconds: float = 0.0
    rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def step(self, seconds: float) -> tuple[float, float]:
        """Advance `seconds`; the new vibration (mm/s) and temperature (°C)."""
        self.elapsed_seconds += seconds
        drifting_minutes = max(0.0, self.elapsed_seconds / 60 - self.steady_minutes)
        level = VIBRATION_START + self.drift_per_minute * drifting_minutes
        vibration = level + self.rng.gauss(0, VIBRATION_NOISE)
        temperature = TEMPERATURE + self.rng.gauss(0, TEMPERATURE_NOISE)
        return vibration, temperature


def _thresholds() -> dict[str, Threshold]:
    return {
        "vibration": Threshold(high=VIBRATION_HIGH),
        "temperature": Threshold(high=TEMPERATURE_HIGH),
    }


def simulated_devices(*, modbus_port: int, opcua_port: int) -> list[Device]:
    """The registry entries of the two simulated pumps on these ports."""
    modbus = Device(
        id="sim-pump-modbus",
        site=SITE,
        model="Simulated pump (Modbus TCP)",
        protocol="modbus-tcp",
        endpoint=f"tcp://{HOST}:{modbus_port}",
        unit_id=UNIT_ID,
        points=[
            ModbusPoint(
                name="vibration",
                register="holding",
                address=VIBRATION_REGISTER,
                type="float32",
                unit="mm/s",
            ),
            ModbusPoint(
                name="temperature",
                register="holding",
                address=TEMPERATURE_REGISTER,
                type="int16",
                scale=TEMPERATURE_SCALE,
                unit="°C",
            ),
            ModbusPoint(name="running", register="coil", address=RUNNING_COIL, type="bool"),
        ],
        thresholds=_thresholds(),
    )
    opcua = Device(
        id="sim-pump-opcua",
        site=SITE,
        model="Simulated pump (OPC UA)",
        protocol="opcua",
        endpoint=f"opc.tcp://{HOST}:{opcua_port}{OPCUA_PATH}",
        points=[
            OpcuaPoint(name="vibration", node_id=f"ns={NAMESPACE};s={VIBRATION_NODE}", unit="mm/s"),
            OpcuaPoint(
                name="temperature", node_id=f"ns={NAMESPACE};s={TEMPERATURE_NODE}", unit="°C"
            ),
        ],
        thresholds=_thresholds(),
    )
    return [modbus, opcua]


def devices_yaml(devices: list[Device]) -> str:
    """The YAML list `ticketflow devices import` registers these devices from (no defaults)."""
    entries = [d.model_dump(mode="json", exclude_defaults=True) for d in devices]
    return yaml.safe_dump(entries, sort_keys=False, allow_unicode=True)


def _registers(value: float | int, data_type: ModbusTcpClient.DATATYPE) -> list[int]:
    """A value as the registers a Modbus device holds it in (big-endian words)."""
    return ModbusTcpClient.convert_to_registers(value, data_type)


class DeviceSimulator:
    """Both simulated pumps, serving until stopped; an async context manager."""

    def __init__(
        self,
        *,
        modbus_port: int = MODBUS_PORT,
        opcua_port: int = OPCUA_PORT,
        drift_per_minute: float = DRIFT_PER_MINUTE,
        steady_minutes: float = STEADY_MINUTES,
        interval: float = 1.0,
        seed: int = 0,
    ) -> None:
        self.modbus_port = modbus_port
        self.opcua_port = opcua_port
        self.interval = interval
        self.modbus_pump = DriftingPump(drift_per_minute, steady_minutes, seed)
        self.opcua_pump = DriftingPump(drift_per_minute, steady_minutes, seed + 1)
        self._modbus: ModbusTcpServer | None = None
        self._opcua: Server | None = None
        self._nodes: tuple[Node, Node] | None = None
        self._ticker: asyncio.Task[None] | None = None

    def devices(self) -> list[Device]:
        """The registry entries of the pumps this simulator serves."""
        return simulated_devices(modbus_port=self.modbus_port, opcua_port=self.opcua_port)

    async def start(self) -> None:
        """Listen on both ports and start changing the values; SimulatorError if a port is taken."""
        await self._start_modbus()
        try:
            await self._start_opcua()
        except BaseException:
            await self.stop()
            raise
        self._ticker = asyncio.create_task(self._tick())

    async def _start_modbus(self) -> None:
        holding = [
            SimData(VIBRATION_REGISTER, values=VIBRATION_START, datatype=DataType.FLOAT32),
            SimData(
                TEMPERATURE_REGISTER,
                values=round(TEMPERATURE / TEMPERATURE_SCALE),
                datatype=DataType.INT16,
            ),
        ]
        coils = [SimData(RUNNING_COIL, values=[True], datatype=DataType.BITS)]
        # Four tables of their own, as on a real device; pymodbus wants an entry in each, so
        # the discrete inputs and input registers hold one unused value.
        discrete = [SimData(0, values=[False], datatype=DataType.BITS)]
        inputs = [SimData(0, values=0, datatype=DataType.REGISTERS)]
        pump = SimDevice(id=UNIT_ID, simdata=(coils, discrete, holding, inputs))
        server = ModbusTcpServer(pump, address=(HOST, self.modbus_port))
        try:
            await server.serve_forever(background=True)
        except RuntimeError as exc:
            await server.shutdown()  # type: ignore[no-untyped-call]
            raise SimulatorError(f"Modbus TCP cannot listen on {HOST}:{self.modbus_port}") from exc
        self._modbus = server

    async def _start_opcua(self) -> None:
        server = Server()
        await server.init()
        server.set_endpoint(f"opc.tcp://{HOST}:{self.opcua_port}{OPCUA_PATH}")
        server.set_server_name("Ticketflow simulated pump")
        server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
        server.set_identity_tokens([ua.AnonymousIdentityToken])
        namespace = await server.register_namespace(NAMESPACE_URI)
        objects = server.nodes.objects
        pump = await objects.add_object(f"ns={namespace};s=Pump1", f"{namespace}:Pump1")
        vibration = await pump.add_variable(
            f"ns={namespace};s={VIBRATION_NODE}",
            f"{namespace}:Vibration",
            ua.Variant(VIBRATION_START, ua.VariantType.Double),
        )
        temperature = await pump.add_variable(
            f"ns={namespace};s={TEMPERATURE_NODE}",
            f"{namespace}:Temperature",
            ua.Variant(TEMPERATURE, ua.VariantType.Double),
        )
        try:
            await server.start()
        except OSError as exc:
            raise SimulatorError(f"OPC UA cannot listen on {HOST}:{self.opcua_port}") from exc
        self._opcua = server
        self._nodes = (vibration, temperature)

    async def update(self) -> None:
        """Move both pumps on by one interval and serve their new values."""
        vibration, temperature = self.modbus_pump.step(self.interval)
        if self._modbus is not None:
            registers = _registers(vibration, ModbusTcpClient.DATATYPE.FLOAT32) + _registers(
                round(temperature / TEMPERATURE_SCALE), ModbusTcpClient.DATATYPE.INT16
            )
            await self._modbus.async_setValues(UNIT_ID, WRITE_REGISTERS, 0, registers)
        vibration, temperature = self.opcua_pump.step(self.interval)
        if self._opcua is not None and self._nodes is not None:
            now = ua.DateTime.now(UTC)
            for node, value in zip(self._nodes, (vibration, temperature), strict=True):
                await self._opcua.write_attribute_value(
                    node.nodeid,
                    ua.DataValue(
                        ua.Variant(value, ua.VariantType.Double),
                        SourceTimestamp=now,
                        ServerTimestamp=now,
                    ),
                )

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            await self.update()

    async def stop(self) -> None:
        """Stop changing the values and close both servers and their connections."""
        if self._ticker is not None:
            self._ticker.cancel()
            await asyncio.gather(self._ticker, return_exceptions=True)
            self._ticker = None
        if self._modbus is not None:
            await self._modbus.shutdown()  # type: ignore[no-untyped-call]
            self._modbus = None
        if self._opcua is not None:
            await self._opcua.stop()
            self._opcua = None

    async def __aenter__(self) -> DeviceSimulator:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()


async def run_simulator(
    *,
    modbus_port: int,
    opcua_port: int,
    drift_per_minute: float,
    steady_minutes: float,
    out: TextIO,
) -> None:
    """Serve both pumps, write their registry entries as YAML to `out`, run until a signal."""
    # The libraries log every session and listener at INFO; the console shows only problems.
    for library in ("asyncua", "pymodbus"):
        logging.getLogger(library).setLevel(logging.WARNING)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    simulator = DeviceSimulator(
        modbus_port=modbus_port,
        opcua_port=opcua_port,
        drift_per_minute=drift_per_minute,
        steady_minutes=steady_minutes,
    )
    async with simulator:
        out.write(devices_yaml(simulator.devices()))
        out.flush()
        sys.stderr.write(
            f"simulating Modbus TCP on {HOST}:{modbus_port} and OPC UA on {HOST}:{opcua_port}, "
            f"vibration steady for {steady_minutes:g} min, then rising {drift_per_minute:g} "
            "mm/s a minute; Ctrl-C stops\n"
        )
        sys.stderr.flush()
        await stop.wait()
