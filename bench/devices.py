"""Device snapshot latency through the edge worker, against bare reads of the same points.

On one embedded Temporal dev server (bench/harness.py starts it as `ticketflow dev` does), with
a pymodbus server of 50 holding registers and an asyncua server of 20 nodes on 127.0.0.1:

* through the edge: `DeviceSnapshotWorkflow` executed by a Temporal client, on an in-process
  worker, running the `device_snapshot` activity on an in-process edge worker (queue
  `edge-bench`): the path a `POST /devices/{id}/snapshot` or a ticket's snapshot takes, the
  reader's planning, decoding, per-point quality and the sealed hash included;
* bare, connected per read: the same points read by pymodbus' client (one request for the 50
  adjacent registers) or asyncua's client (one read of the 20 nodes), connecting and closing
  each time, as the edge activity does;
* bare, one connection: the same reads on a connection kept open (the protocol's floor).

* bare Temporal: a workflow running one no-op activity (the engine's floor for a snapshot that
  travels as a workflow and an activity).

Rounds alternate the four, so a drift in the machine's load hits each alike. Printed: p50 and
p99 per snapshot of each, the ratios of the edge's p50 to the others, and what the edge adds
over the Temporal floor.

Then alarms: the site's edge (`edge_site`, as `ticketflow edge` runs it: the edge worker and
its monitoring) polls `--alarms` Modbus devices every 50 ms on one pymodbus server, and the real
ticket worker files on the bundled `device-alarm` definition in a migrated SQLite database. One
device at a time, its register is raised above its threshold from the server side; the latency
is from the sample that crossed (the alarm's `last_at`) to the ticket's creation (its
`created_at`), against the Temporal floor measured above.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from pathlib import Path

# The repo's packages before this folder: its forms.py and triage.py would hide the packages
# the ticket worker imports (this folder stays on the path for `harness`).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import harness
from asyncua import ua
from asyncua.client.client import Client as OpcuaClient
from asyncua.server.server import Server
from pymodbus.client import AsyncModbusTcpClient
from pymodbus.datastore import (
    ModbusDeviceContext,
    ModbusSequentialDataBlock,
    ModbusServerContext,
)
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.worker import Worker

from domain.definitions import ProcessDefinition
from domain.device_snapshot import DeviceSnapshotInput
from domain.devices import Device, ModbusPoint, OpcuaPoint, Threshold
from domain.ticket import Actor
from services.bundled import bundled_definitions
from services.devices import register_device
from store.db import make_async_engine, make_sessionmaker
from store.definitions import insert_definition
from store.models import TicketRow
from ticketflow.devstack import Child
from ticketflow.settings import Settings
from ticketflow.temporal_client import DATA_CONVERTER
from ticketflow.temporal_server import dev_server_command, temporal_binary
from workers.edge import build_edge_worker, edge_site
from workers.tickets import build_ticket_worker
from workflows.device_snapshot import DeviceSnapshotWorkflow

HOST = "127.0.0.1"
SITE = "bench"
QUEUE = "bench-snapshots"
HOP_QUEUE = "bench-hop"
TEMPORAL_FLOOR = "bare Temporal, 1 no-op activity"
REGISTERS = 50
NODES = 20
UNIT_ID = 1
OPCUA_PATH = "/bench/"
Sample = Callable[[], Awaitable[None]]
ALARM_SITE = "bench-alarms"
ALARM_QUEUE = "bench-alarm-tickets"
ALARM_POLL_SECONDS = 0.05
ALARM_LIMIT = 100.0
# The function code that names the holding registers in the server's datastore.
HOLDING = 3
# Bounds the wait for one alarm's ticket, so a broken path stops the bench instead of hanging.
ALARM_BOUND_SECONDS = 60.0
Results = dict[str, dict[str, list[float]]]


def modbus_device(port: int) -> Device:
    """The registry entry of the 50-register device."""
    points = [
        ModbusPoint(name=f"r{i}", register="holding", address=i, type="uint16")
        for i in range(REGISTERS)
    ]
    return Device(
        id="bench-modbus",
        site=SITE,
        model="Bench Modbus",
        protocol="modbus-tcp",
        endpoint=f"tcp://{HOST}:{port}",
        unit_id=UNIT_ID,
        points=points,
    )


def opcua_device(port: int) -> Device:
    """The registry entry of the 20-node device."""
    points = [OpcuaPoint(name=f"p{i}", node_id=f"ns=2;s=Bench.P{i}") for i in range(NODES)]
    return Device(
        id="bench-opcua",
        site=SITE,
        model="Bench OPC UA",
        protocol="opcua",
        endpoint=f"opc.tcp://{HOST}:{port}{OPCUA_PATH}",
        points=points,
    )


async def serve_modbus(port: int) -> ModbusTcpServer:
    """A Modbus TCP server of 50 holding registers (and one value in each other table)."""
    holding = [SimData(0, values=list(range(REGISTERS)), datatype=DataType.REGISTERS)]
    coils = [SimData(0, values=[False], datatype=DataType.BITS)]
    discrete = [SimData(0, values=[False], datatype=DataType.BITS)]
    inputs = [SimData(0, values=0, datatype=DataType.REGISTERS)]
    device = SimDevice(id=UNIT_ID, simdata=(coils, discrete, holding, inputs))
    server = ModbusTcpServer(device, address=(HOST, port))
    await server.serve_forever(background=True)
    return server


async def serve_opcua(port: int) -> Server:
    """An OPC UA server of 20 double nodes, no security."""
    server = Server()
    await server.init()
    server.set_endpoint(f"opc.tcp://{HOST}:{port}{OPCUA_PATH}")
    server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
    namespace = await server.register_namespace("urn:ticketflow:bench")
    folder = await server.nodes.objects.add_object(f"ns={namespace};s=Bench", "Bench")
    for i in range(NODES):
        await folder.add_variable(f"ns={namespace};s=Bench.P{i}", f"P{i}", float(i))
    await server.start()
    return server


async def bare_modbus(client: AsyncModbusTcpClient) -> None:
    """One read of the 50 registers, as one request."""
    answer = await client.read_holding_registers(0, count=REGISTERS, device_id=UNIT_ID)
    if answer.isError() or len(answer.registers) != REGISTERS:
        raise harness.BenchError(f"bare Modbus read failed: {answer}")


async def bare_opcua(client: OpcuaClient, ids: list[ua.NodeId]) -> None:
    """One read of the 20 nodes' values."""
    values = await client.read_values([client.get_node(i) for i in ids])
    if len(values) != NODES:
        raise harness.BenchError("bare OPC UA read failed")


def samplers(
    temporal: Client, device: Device, kept: AsyncModbusTcpClient | OpcuaClient
) -> dict[str, Sample]:
    """The three ways of reading `device` once."""
    port = int(device.endpoint.rsplit(":", 1)[1].split("/")[0])
    ids = [ua.NodeId.from_string(p.node_id) for p in device.points if isinstance(p, OpcuaPoint)]

    async def edge() -> None:
        result = await temporal.execute_workflow(
            DeviceSnapshotWorkflow.run,
            DeviceSnapshotInput(device=device),
            id=f"bench-snapshot-{uuid.uuid4().hex}",
            task_queue=QUEUE,
        )
        bad = [r for r in result.snapshot.readings if r.quality != "good"]
        if result.unreachable or bad:
            raise harness.BenchError(f"the edge snapshot was not good: {result.unreachable}")

    async def connected() -> None:
        if device.protocol == "modbus-tcp":
            client = AsyncModbusTcpClient(HOST, port=port, timeout=5, retries=0)
            await client.connect()
            try:
                await bare_modbus(client)
            finally:
                client.close()
        else:
            opcua = OpcuaClient(device.endpoint)
            await opcua.connect()
            try:
                await bare_opcua(opcua, ids)
            finally:
                await opcua.disconnect()

    async def one_connection() -> None:
        if isinstance(kept, AsyncModbusTcpClient):
            await bare_modbus(kept)
        else:
            await bare_opcua(kept, ids)

    async def hop() -> None:
        await temporal.execute_workflow(
            harness.BareWorkflow.run,
            harness.BarePlan(steps=[False]),
            id=f"bench-hop-{uuid.uuid4().hex}",
            task_queue=HOP_QUEUE,
        )

    return {
        "edge": edge,
        "bare, connected per read": connected,
        "bare, one connection": one_connection,
        TEMPORAL_FLOOR: hop,
    }


async def measure(ways: dict[str, Sample], samples: int, rounds: int) -> dict[str, list[float]]:
    """Seconds per read of each way, rounds alternating, one warm-up read each."""
    found: dict[str, list[float]] = {name: [] for name in ways}
    for read in ways.values():
        await read()
    per_round = max(samples // rounds, 1)
    for _ in range(rounds):
        for name, read in ways.items():
            for _ in range(per_round):
                start = time.perf_counter()
                await read()
                found[name].append(time.perf_counter() - start)
    return found


def alarm_device(port: int, index: int) -> Device:
    """A pump whose one register at `index` alarms above ALARM_LIMIT."""
    return Device(
        id=f"bench-pump-{index}",
        site=ALARM_SITE,
        model="Bench pump",
        protocol="modbus-tcp",
        endpoint=f"tcp://{HOST}:{port}",
        unit_id=UNIT_ID,
        points=[ModbusPoint(name="vibration", register="holding", address=index, type="uint16")],
        poll_seconds=ALARM_POLL_SECONDS,
        thresholds={"vibration": Threshold(high=ALARM_LIMIT)},
    )


async def prepare_alarms(sessions: async_sessionmaker[AsyncSession], devices: list[Device]) -> None:
    """Publish the bundled `device-alarm` definition and register the pumps."""
    (document,) = [d for name, d in bundled_definitions() if name == "device-alarm.yaml"]
    now = datetime.now(UTC)
    async with sessions() as session, session.begin():
        await insert_definition(
            session=session,
            definition=ProcessDefinition.model_validate({**document, "version": 1}),
            published_by="bench",
            now=now,
        )
        for device in devices:
            await register_device(
                session=session,
                document=device.model_dump(),
                actor=Actor(user="bench", role="admin"),
                settings=Settings(device_hosts={ALARM_SITE: [HOST]}),
                now=now,
            )


async def alarm_ticket(sessions: async_sessionmaker[AsyncSession], device_id: str) -> TicketRow:
    """The ticket an alarm of `device_id` opened, once it is there."""
    while True:
        async with sessions() as session:
            for row in await session.scalars(select(TicketRow)):
                if row.intake.get("device_id") == device_id:
                    return row
        await asyncio.sleep(0.01)


async def measure_alarms(client: Client, workdir: Path, trials: int) -> list[float]:
    """Seconds from each crossing sample to its ticket's creation, one pump at a time."""
    url = f"sqlite:///{workdir / 'alarms.db'}"
    await harness.prepare_database(url, {})
    engine = make_async_engine(url)
    registers = ModbusSequentialDataBlock(1, [0] * trials)
    context = ModbusServerContext(devices={UNIT_ID: ModbusDeviceContext(hr=registers)})
    (port,) = harness.free_ports(1)
    server = ModbusTcpServer(context, address=(HOST, port))
    await server.serve_forever(background=True)
    latencies = []
    try:
        sessions = make_sessionmaker(engine)
        devices = [alarm_device(port, i) for i in range(trials)]
        await prepare_alarms(sessions, devices)
        async with (
            build_ticket_worker(
                client=client, task_queue=ALARM_QUEUE, sessions=sessions, data_dir=workdir
            ),
            edge_site(client=client, site=ALARM_SITE, task_queue=ALARM_QUEUE),
        ):
            # Every pump polled, below its limit, before the first one crosses.
            await asyncio.sleep(2.0)
            for device in devices:
                address = device.points[0].address  # type: ignore[union-attr]
                await server.async_setValues(UNIT_ID, HOLDING, address, [int(ALARM_LIMIT) + 50])
                async with asyncio.timeout(ALARM_BOUND_SECONDS):
                    ticket = await alarm_ticket(sessions, device.id)
                crossed = datetime.fromisoformat(ticket.intake["alarm"]["last_at"])
                created = ticket.created_at.replace(tzinfo=ticket.created_at.tzinfo or UTC)
                latencies.append((created - crossed).total_seconds())
    finally:
        await server.shutdown()  # type: ignore[no-untyped-call]
        await engine.dispose()
    return latencies


async def run_bench(
    args: argparse.Namespace, workdir: Path, children: dict[str, Child]
) -> tuple[Results, list[float]]:
    """Start the server and the devices, then measure both devices."""
    harness.byte_compile()
    temporal_port, ui_port, modbus_port, opcua_port = harness.free_ports(4)
    address = f"{HOST}:{temporal_port}"
    harness.note(f"starting the Temporal dev server on {address}")
    command = dev_server_command(
        binary=temporal_binary(),
        db_file=workdir / "temporal.db",
        port=temporal_port,
        ui_port=ui_port,
        ip=HOST,
    )
    server = Child(harness.TEMPORAL, command, log_path=workdir / "temporal.log")
    harness.start_child(children, server)
    await harness.connect_temporal(address, server)
    # Ticketflow's converter, as its workers and API use: the snapshot models are pydantic.
    client = await Client.connect(address, data_converter=DATA_CONVERTER)
    modbus_server = await serve_modbus(modbus_port)
    opcua_server = await serve_opcua(opcua_port)
    results: Results = {}
    try:
        async with AsyncExitStack() as stack:
            await stack.enter_async_context(build_edge_worker(client=client, site=SITE))
            await stack.enter_async_context(
                Worker(client, task_queue=QUEUE, workflows=[DeviceSnapshotWorkflow])
            )
            await stack.enter_async_context(
                Worker(
                    client,
                    task_queue=HOP_QUEUE,
                    workflows=[harness.BareWorkflow],
                    activities=[harness.noop],
                )
            )
            kept_modbus = AsyncModbusTcpClient(HOST, port=modbus_port, timeout=5, retries=0)
            await kept_modbus.connect()
            stack.callback(kept_modbus.close)
            kept_opcua = OpcuaClient(f"opc.tcp://{HOST}:{opcua_port}{OPCUA_PATH}")
            await kept_opcua.connect()
            stack.push_async_callback(kept_opcua.disconnect)
            for device, kept in (
                (modbus_device(modbus_port), kept_modbus),
                (opcua_device(opcua_port), kept_opcua),
            ):
                harness.note(f"measuring {device.id}: {args.samples} reads per way")
                ways = samplers(client, device, kept)
                results[device.id] = await measure(ways, args.samples, args.rounds)
    finally:
        await modbus_server.shutdown()  # type: ignore[no-untyped-call]
        await opcua_server.stop()
    harness.note(f"measuring alarm to ticket: {args.alarms} pumps, one after the other")
    alarms = await measure_alarms(client, workdir, args.alarms)
    return results, alarms


def print_report(args: argparse.Namespace, measured: tuple[Results, list[float]]) -> None:
    """p50 and p99 per way and device, the edge's ratios to the bare reads, then alarms."""
    results, alarms = measured
    pct = harness.percentile
    print()
    print(f"Device snapshots, {args.samples} reads per way and device, {args.rounds} rounds")
    for device, ways in results.items():
        modbus = device == "bench-modbus"
        print(f"  {REGISTERS} Modbus registers" if modbus else f"  {NODES} OPC UA nodes")
        for name, values in ways.items():
            p50, p99 = pct(values, 50) * 1000, pct(values, 99) * 1000
            print(f"    {name:32} p50 {p50:7.2f} ms   p99 {p99:7.2f} ms")
        edge = pct(ways["edge"], 50)
        for name in ways:
            if name != "edge":
                print(f"    edge / {name} p50: {edge / pct(ways[name], 50):.1f}x")
        floor = edge - pct(ways[TEMPORAL_FLOOR], 50)
        print(f"    edge p50 over the Temporal floor: {floor * 1000:.2f} ms")
    hop = pct(results["bench-modbus"][TEMPORAL_FLOOR], 50)
    p50, p99 = pct(alarms, 50), pct(alarms, 99)
    print(f"Alarm to ticket, {len(alarms)} pumps polled every {ALARM_POLL_SECONDS * 1000:.0f} ms")
    print(f"    crossing sample to ticket    p50 {p50 * 1000:7.2f} ms   p99 {p99 * 1000:7.2f} ms")
    print(f"    p50 / {TEMPORAL_FLOOR} p50: {p50 / hop:.1f}x")


def main() -> None:
    """Measure and print."""
    # asyncua warns on every connect that the server shortened the session it asked for.
    logging.getLogger("asyncua").setLevel(logging.ERROR)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=200, help="reads per way and device")
    parser.add_argument("--rounds", type=int, default=4, help="alternating rounds")
    parser.add_argument("--alarms", type=int, default=40, help="pumps that alarm, one at a time")
    args = parser.parse_args()
    if min(args.samples, args.rounds, args.alarms) < 1:
        parser.error("every count must be at least 1")
    code = harness.run_stack(
        lambda workdir, children: run_bench(args, workdir, children),
        lambda results: print_report(args, results),
    )
    harness.exit_now(code)


if __name__ == "__main__":
    main()
