"""Drift → alarm → ticket, on the real parts: simulated pumps, the edge, the ticket worker.

The simulator's two pumps (pymodbus and asyncua servers on 127.0.0.1) hold steady, then their
vibration climbs fast; the edge (polling the Modbus pump, subscribed to the OPC UA one) learns
each pump's first window, and a real ticket worker on a Temporal dev server files and signals
the tickets in a migrated SQLite database. Then every table and history is searched for
sample series: only summaries may have left the edge.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from domain.definitions import ProcessDefinition
from domain.device_alarm_tickets import alarms_workflow_id
from domain.devices import Device
from domain.ticket import Actor
from services.bundled import bundled_definitions
from services.devices import register_device
from store.definitions import insert_definition
from store.models import Base, TicketEventRow, TicketRow
from tests.dbutil import migrated_sessions, sqlite_url
from tests.devstack_util import free_port
from tests.temporal_env import dev_server_env
from ticketflow.device_simulator import VIBRATION_HIGH, DeviceSimulator
from ticketflow.settings import Settings, get_settings
from triage.device_anomaly import DeviceAnomalyDetector
from workers.edge import edge_site
from workers.tickets import build_ticket_worker

MODBUS, OPCUA = "sim-pump-modbus", "sim-pump-opcua"
# The Modbus pump's model files on a definition of its own; the OPC UA one on the default.
MAPPED = "pump-alarm"
INTERVAL = 0.05
# A second and a half of samples to learn from, then a climb of 1 mm/s a second from 2.0 mm/s.
STEADY = timedelta(seconds=2.5)
LEARN = timedelta(seconds=1.5)
DRIFT_PER_MINUTE = 60.0
# Bounds every wait on the scenario, so a broken path fails instead of hanging.
BOUND = 60


@dataclass
class Scenario:
    """What ran, and where it left its data."""

    client: Client
    sessions: async_sessionmaker[AsyncSession]
    tickets: list[TicketRow]


def _definition(key: str, prefix: str) -> ProcessDefinition:
    (document,) = [d for name, d in bundled_definitions() if name == "device-alarm.yaml"]
    return ProcessDefinition.model_validate(
        {**document, "key": key, "key_prefix": prefix, "version": 1}
    )


async def _prepare(sessions: async_sessionmaker[AsyncSession], devices: list[Device]) -> None:
    """Publish the two alarm definitions and register the pumps (polled every interval)."""
    now = datetime.now(UTC)
    async with sessions() as session:
        for definition in (_definition(MAPPED, "PA"), _definition("device-alarm", "DA")):
            await insert_definition(
                session=session, definition=definition, published_by="root", now=now
            )
        for device in devices:
            await register_device(
                session=session,
                document=device.model_copy(update={"poll_seconds": INTERVAL}).model_dump(),
                actor=Actor(user="root", role="admin"),
                settings=Settings(),
                now=now,
            )
        await session.commit()


async def _tickets(sessions: async_sessionmaker[AsyncSession]) -> list[TicketRow]:
    async with sessions() as session:
        return list((await session.scalars(select(TicketRow).order_by(TicketRow.key))).all())


async def _alarm_events(sessions: async_sessionmaker[AsyncSession], key: str) -> int:
    async with sessions() as session:
        rows = await session.scalars(
            select(TicketEventRow).where(
                TicketEventRow.ticket_key == key, TicketEventRow.type == "external_event"
            )
        )
        return sum(1 for row in rows if row.data.get("name") == "device_alarm")


def _of(tickets: list[TicketRow], device: str, alarm_type: str) -> list[TicketRow]:
    return [
        t
        for t in tickets
        if t.intake["device_id"] == device and t.intake["alarm_type"] == alarm_type
    ]


async def _until(check: Callable[[], Awaitable[bool]]) -> None:
    """Look again every tenth of a second until `check` holds (callers bound the wait)."""
    while True:
        if await check():
            return
        await asyncio.sleep(0.1)


@pytest.fixture(scope="module")
async def scenario(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Scenario]:
    """Run the drift on both pumps until each threshold alarm has opened its ticket."""
    environment: WorkflowEnvironment = await dev_server_env()
    data = Path(tmp_path_factory.mktemp("alarms"))
    queue = f"tickets-{uuid.uuid4().hex[:8]}"
    simulator = DeviceSimulator(
        modbus_port=free_port(),
        opcua_port=free_port(),
        drift_per_minute=DRIFT_PER_MINUTE,
        steady_minutes=STEADY.total_seconds() / 60,
        interval=INTERVAL,
    )
    with pytest.MonkeyPatch.context() as patch:
        model = simulator.devices()[0].model
        patch.setenv("TICKETFLOW_ALARM_DEFINITIONS", json.dumps({model: MAPPED}))
        get_settings.cache_clear()
        try:
            async with migrated_sessions(sqlite_url(data)) as sessions:
                await _prepare(sessions, simulator.devices())
                async with (
                    build_ticket_worker(
                        client=environment.client,
                        task_queue=queue,
                        sessions=sessions,
                        data_dir=data,
                    ),
                    simulator,
                    edge_site(
                        client=environment.client,
                        site="local",
                        task_queue=queue,
                        refresh_seconds=0.5,
                        learn_for=LEARN,
                        detector=lambda d: DeviceAnomalyDetector(
                            d, window=5, confirm=5, min_samples=20
                        ),
                        repeat=timedelta(seconds=0.5),
                    ),
                ):

                    async def thresholds_ticketed() -> bool:
                        tickets = await _tickets(sessions)
                        return all(
                            _of(tickets, d, "threshold_high:vibration") for d in (MODBUS, OPCUA)
                        )

                    async with asyncio.timeout(BOUND):
                        await _until(thresholds_ticketed)
                    yield Scenario(environment.client, sessions, await _tickets(sessions))
        finally:
            get_settings.cache_clear()
            await environment.shutdown()


async def test_a_drift_opens_a_ticket_before_its_threshold_on_the_models_definition(
    scenario: Scenario,
) -> None:
    for device, definition in ((MODBUS, MAPPED), (OPCUA, "device-alarm")):
        (anomaly,) = _of(scenario.tickets, device, "anomaly:vibration")
        (threshold,) = _of(scenario.tickets, device, "threshold_high:vibration")
        assert anomaly.definition_key == threshold.definition_key == definition
        assert anomaly.intake["alarm"]["trigger"]["vibration"] < VIBRATION_HIGH
        assert threshold.intake["alarm"]["trigger"]["vibration"] > VIBRATION_HIGH
        assert anomaly.created_at < threshold.created_at
        assert anomaly.intake["severity"] == "minor"
        assert threshold.intake["severity"] == "major"


async def test_a_lasting_alarm_goes_to_its_open_ticket_as_device_alarm_events(
    scenario: Scenario,
) -> None:
    (anomaly,) = _of(scenario.tickets, MODBUS, "anomaly:vibration")
    # Sent again every half second while it lasts: more events, still one ticket.
    await _until_bounded(lambda: _more_than_one(scenario.sessions, anomaly.key))
    assert len(_of(await _tickets(scenario.sessions), MODBUS, "anomaly:vibration")) == 1
    # The device's alarm workflow keeps each open alarm with its ticket.
    handle = scenario.client.get_workflow_handle(alarms_workflow_id(MODBUS))
    kept = {a["type"]: a["ticket_key"] for a in await handle.query("open_alarms")}
    (threshold,) = _of(scenario.tickets, MODBUS, "threshold_high:vibration")
    assert kept["anomaly:vibration"] == anomaly.key
    assert kept["threshold_high:vibration"] == threshold.key


async def _more_than_one(sessions: async_sessionmaker[AsyncSession], key: str) -> bool:
    return await _alarm_events(sessions, key) > 1


async def _until_bounded(check: Callable[[], Awaitable[bool]]) -> None:
    async with asyncio.timeout(BOUND):
        await _until(check)


def _series(value: Any, path: str = "") -> list[str]:
    """Where a value holds a run of more than two samples: numbers, or values of one point."""
    found: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            found += _series(item, f"{path}/{key}")
    elif isinstance(value, list):
        numbers = [v for v in value if isinstance(v, int | float) and not isinstance(v, bool)]
        samples = [v for v in value if isinstance(v, dict) and "value" in v]
        points = {v.get("point") for v in samples}
        if len(numbers) > 2 or (len(samples) > 2 and len(points) == 1):
            found.append(path)
        for index, item in enumerate(value):
            found += _series(item, f"{path}/{index}")
    elif isinstance(value, str) and value[:1] in "[{":
        with contextlib.suppress(ValueError):
            found += _series(json.loads(value), path)
    return found


def _payloads(value: Any) -> list[Any]:
    """Every JSON payload in a history's JSON (payloads are base64 in their `data`)."""
    if isinstance(value, list):
        return [p for item in value for p in _payloads(item)]
    if not isinstance(value, dict):
        return []
    if "metadata" in value and "data" in value and isinstance(value["data"], str):
        try:
            return [json.loads(base64.b64decode(value["data"]))]
        except ValueError:
            return []
    return [p for item in value.values() for p in _payloads(item)]


async def test_no_sample_series_reaches_the_database_or_the_histories(
    scenario: Scenario,
) -> None:
    async with scenario.sessions() as session:
        for table in Base.metadata.sorted_tables:
            rows = (await session.execute(select(table))).mappings().all()
            for row in rows:
                assert _series(dict(row), table.name) == []
    ids = [alarms_workflow_id(MODBUS), alarms_workflow_id(OPCUA)]
    ids += [t.key for t in scenario.tickets]
    searched = 0
    for workflow_id in ids:
        history = await scenario.client.get_workflow_handle(workflow_id).fetch_history()
        for payload in _payloads(json.loads(history.to_json())):
            assert _series(payload, workflow_id) == []
            searched += 1
    assert searched > len(ids)


def test_the_series_check_finds_a_curve() -> None:
    curve = {"curves": {"vibration": [{"at": "t1", "value": 2.0}, {"at": "t2", "value": 2.1}]}}
    assert _series(curve) == []
    curve["curves"]["vibration"].append({"at": "t3", "value": 2.2})
    assert _series(curve) == ["/curves/vibration"]
    assert _series({"values": [1.0, 2.0, 3.0]}) == ["/values"]
    readings = [{"point": p, "value": 1.0} for p in ("a", "b", "c")]
    assert _series({"readings": readings}) == []
