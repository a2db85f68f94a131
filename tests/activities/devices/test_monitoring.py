"""Edge monitoring against real servers: devices come and go with the registry, an unreachable
one is logged and retried, and a threshold alarm is sent once per repeat with the readings."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest

from activities.devices.errors import DeviceUnreachableError
from activities.devices.monitoring import DeviceMonitor
from domain.device_alarm_tickets import AlarmReport
from domain.device_window import DeviceWindows
from domain.devices import Device, ModbusPoint, OpcuaPoint, Reading, Threshold
from tests.activities.devices.servers import ModbusDevice, OpcuaDevice
from tests.devstack_util import free_port

# Bounds each wait on the monitor, so a broken one fails instead of hanging.
BOUND = 20


def press(endpoint: str, *, version: int = 1, high: float = 100.0) -> Device:
    """A Modbus press whose holding register 10 is its temperature."""
    return Device(
        id="press-1",
        site="plant-a",
        model="P1",
        protocol="modbus-tcp",
        endpoint=f"tcp://{endpoint}",
        unit_id=1,
        points=[ModbusPoint(name="temp", register="holding", address=10)],
        poll_seconds=0.05,
        thresholds={"temp": Threshold(high=high)},
        version=version,
    )


async def until(check: Callable[[], bool | Awaitable[bool]]) -> None:
    """Look again every 50 ms until `check` holds, within the bound."""
    async with asyncio.timeout(BOUND):
        while True:
            result = check()
            if result if isinstance(result, bool) else await result:
                return
            await asyncio.sleep(0.05)


class Registry:
    """The devices the monitor is told about, changed by the test; and the reports sent."""

    def __init__(self, *devices: Device) -> None:
        self.devices = list(devices)
        self.reports: list[AlarmReport] = []
        self.refused = False

    async def list(self) -> list[Device]:
        if self.refused:
            raise ConnectionError("the ticket worker is down")
        return list(self.devices)

    async def send(self, report: AlarmReport) -> None:
        self.reports.append(report)


async def test_devices_follow_the_registry_and_an_unreachable_one_is_retried(
    modbus: ModbusDevice, caplog: pytest.LogCaptureFixture
) -> None:
    await modbus.write("holding", 10, [70])
    gone = press(f"127.0.0.1:{free_port()}").model_copy(update={"id": "press-0"})
    registry, windows = Registry(gone), DeviceWindows()
    monitor = DeviceMonitor(
        windows=windows, devices=registry.list, send=registry.send, refresh_seconds=0.05
    )
    caplog.set_level(logging.DEBUG, "ticketflow.edge.monitoring")
    task = asyncio.create_task(monitor.run())
    try:
        await until(lambda: len([r for r in caplog.records if "press-0" in r.message]) >= 3)
        ours = [r for r in caplog.records if r.name == "ticketflow.edge.monitoring"]
        warned = [r for r in ours if r.levelno == logging.WARNING]
        assert len(warned) == 1
        assert "device press-0 unreachable, retrying" in warned[0].message

        # A newly registered device is watched at the next refresh; its samples fill its window.
        registry.devices.append(press(modbus.endpoint))
        window = windows.window("press-1", minutes=5)
        await until(lambda: len(window.curves(now=datetime.now(UTC)).get("temp", [])) >= 3)
        assert monitor.watched == {"press-0": 1, "press-1": 1}

        # A registry that cannot be read keeps the devices watched.
        registry.refused = True
        await until(lambda: "keeping the last list" in caplog.text)
        assert monitor.watched == {"press-0": 1, "press-1": 1}
        registry.refused = False

        # A new version (a lower limit) replaces the watch; a device gone stops being watched.
        registry.devices = [press(modbus.endpoint, version=2, high=50.0)]
        await until(lambda: monitor.watched == {"press-1": 2})
        await until(lambda: bool(registry.reports))
        assert not task.done()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    (report, *_) = registry.reports
    assert report.summary.type == "threshold_high:temp"
    assert report.summary.trigger == {"temp": 70.0}
    assert [(r.point, r.value) for r in report.snapshot.readings] == [("temp", 70)]
    assert report.snapshot.curves == {}
    assert report.snapshot.sha256


async def test_a_lasting_alarm_is_sent_again_after_the_repeat_only(modbus: ModbusDevice) -> None:
    await modbus.write("holding", 10, [70])
    registry = Registry(press(modbus.endpoint, high=50.0))
    monitor = DeviceMonitor(
        windows=DeviceWindows(),
        devices=registry.list,
        send=registry.send,
        repeat=timedelta(seconds=0.3),
    )
    task = asyncio.create_task(monitor.run())
    try:
        await until(lambda: len(registry.reports) >= 2)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    first, second = registry.reports[:2]
    # Polled every 50 ms, the alarm fired on every poll; it went out again only after 0.3 s.
    assert second.snapshot.taken_at - first.snapshot.taken_at >= timedelta(seconds=0.3)


async def test_opcua_nodes_arrive_by_subscription(opcua: OpcuaDevice) -> None:
    device = Device(
        id="oven-1",
        site="plant-a",
        model="O1",
        protocol="opcua",
        endpoint=opcua.endpoint,
        points=[OpcuaPoint(name="temp", node_id=f"ns={opcua.namespace};s=Press.Temp")],
        poll_seconds=0.05,
        thresholds={"temp": Threshold(high=20.0)},
    )
    registry, windows = Registry(device), DeviceWindows()
    monitor = DeviceMonitor(windows=windows, devices=registry.list, send=registry.send)
    task = asyncio.create_task(monitor.run())
    try:
        await until(lambda: bool(registry.reports))
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    (report,) = registry.reports
    assert report.summary.type == "threshold_high:temp"
    assert report.summary.trigger == {"temp": 21.5}
    assert windows.window("oven-1", minutes=5).curves(now=datetime.now(UTC))["temp"]


class CancelTurnedIntoOutage:
    """A reader whose client library reports its request's cancellation as a lost connection."""

    def __init__(self) -> None:
        self.reading = asyncio.Event()

    async def read(self, **_: object) -> list[Reading]:
        self.reading.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            raise DeviceUnreachableError("request cancelled outside the client") from None
        return []


async def test_a_watch_stops_when_cancelled_though_its_client_turns_the_cancel_into_an_outage() -> (
    None
):
    reader = CancelTurnedIntoOutage()
    registry = Registry(press("127.0.0.1:1"))
    monitor = DeviceMonitor(
        windows=DeviceWindows(),
        devices=registry.list,
        send=registry.send,
        readers=lambda _device: reader,
        refresh_seconds=0.05,
    )
    running = asyncio.create_task(monitor.run())
    async with asyncio.timeout(BOUND):
        await reader.reading.wait()
    running.cancel()
    async with asyncio.timeout(BOUND):
        await asyncio.gather(running, return_exceptions=True)
    assert running.cancelled()
    assert monitor.watched == {}
