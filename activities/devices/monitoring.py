"""Edge monitoring: a site's devices sampled into their windows and judged on every sample.

Modbus devices are polled every `poll_seconds` through their reader; OPC UA nodes arrive
through a subscription publishing every `poll_seconds` (in milliseconds, as OPC UA has it).
Each new sample wakes the device's judge, which runs the thresholds and the device's anomaly
detector (trained once on the device's first normal window) in an executor, off the event
loop, and sends what is due as an `AlarmReport`: the summary and a sealed snapshot of the
latest readings, never the samples. An unreachable device is logged and tried again at the
next poll; no device's failure stops another's, nor the worker.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from asyncua import ua
from asyncua.client.client import Client
from asyncua.common.node import Node
from asyncua.common.subscription import DataChangeNotif
from asyncua.ua.uaerrors import UaError

from activities.devices.errors import DeviceUnreachableError
from activities.devices.opcua import reading_of, secure, shown
from activities.devices.reader import DeviceReader, reader_for
from domain.device_alarm_tickets import ALARM_REPEAT, AlarmReport, due_alarms
from domain.device_alarms import AlarmSummary, threshold_alarms
from domain.device_reading import READ_TIMEOUT_SECONDS, opcua_url, snapshot_of
from domain.device_window import DeviceWindow, DeviceWindows
from domain.devices import Device, OpcuaPoint, Reading, Sample
from triage.device_anomaly import DeviceAnomalyDetector

log = logging.getLogger("ticketflow.edge.monitoring")

# How often the registry is read again, so a newly registered device is watched.
REFRESH_SECONDS = 30.0
# The detector is CPU work: a couple of threads keep it off the loop without taking the box.
JUDGES = 2

Curves = Mapping[str, Sequence[Sample]]


async def _sleep_unless_cancelled(seconds: float) -> None:
    """Wait before the next round of a loop, unless its task was cancelled meanwhile.

    A client library may turn the cancellation of a request it was waiting on into its own
    error (pymodbus raises a connection error), which the loop takes for an outage: the
    cancellation is then spent, and only the task's pending count still tells of it.
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
    await asyncio.sleep(seconds)


class DeviceSource(Protocol):
    """The site's registered devices (the latest version of each)."""

    async def __call__(self) -> list[Device]:
        """The devices to watch now."""
        ...


class AlarmSender(Protocol):
    """Sends one alarm report upstream."""

    async def __call__(self, report: AlarmReport) -> None:
        """Deliver the report, or raise."""
        ...


class Judge:
    """A device's thresholds and anomaly detector: CPU work, called in an executor thread."""

    def __init__(self, device: Device, detector: DeviceAnomalyDetector, learn_for: timedelta):
        self._device = device
        self._detector = detector
        self._learn_for = learn_for

    def alarms(self, curves: Curves, started: datetime, now: datetime) -> list[AlarmSummary]:
        """The threshold alarms, then the anomalies once the first normal window was learnt."""
        alarms = threshold_alarms(self._device, curves)
        if self._detector.trained:
            alarms += self._detector.check(curves)
        elif now - started >= self._learn_for:
            # Trains on the first window only; if no point could be trained yet (too short or
            # flat), the next sample tries again.
            trained = self._detector.fit(curves)
            if trained:
                log.info(
                    "device %s: learnt its normal window (%s), judging from now on",
                    self._device.id,
                    ", ".join(sorted(trained)),
                )
        return alarms


class DeviceWatch:
    """One device: its samples into its window, and its judge woken on each new one."""

    def __init__(
        self,
        device: Device,
        *,
        window: DeviceWindow,
        judge: Judge,
        readers: Callable[[Device], DeviceReader],
        send: AlarmSender,
        executor: Executor,
        repeat: timedelta,
    ) -> None:
        self.device = device
        self._window = window
        self._judge = judge
        self._readers = readers
        self._send = send
        self._executor = executor
        self._repeat = repeat
        self._latest: dict[str, Reading] = {}
        self._last_sent: dict[str, datetime] = {}
        self._started: datetime | None = None
        self._fresh = asyncio.Event()
        self._failing = False

    async def run(self) -> None:
        """Sample and judge until cancelled."""
        sampling = self._subscribe if self.device.protocol == "opcua" else self._poll
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(sampling())
            tasks.create_task(self._judging())

    def add(self, readings: list[Reading], at: datetime) -> None:
        """New readings: into the window, the latest snapshot, and a wake-up for the judge."""
        self._window.add(readings, at=at)
        for reading in readings:
            self._latest[reading.point] = reading
        if self._started is None and any(r.quality == "good" for r in readings):
            self._started = at
        self._fresh.set()
        if self._failing:
            log.info("device %s answers again", self.device.id)
            self._failing = False

    def _unreachable(self, reason: object) -> None:
        """Log an outage once (and again at debug level on every retry)."""
        level = logging.DEBUG if self._failing else logging.WARNING
        log.log(level, "device %s unreachable, retrying: %s", self.device.id, reason)
        self._failing = True

    async def _poll(self) -> None:
        """Read every `poll_seconds`; an unreachable device is retried at the next poll."""
        reader = self._readers(self.device)
        while True:
            try:
                readings = await reader.read()
            except DeviceUnreachableError as exc:
                self._unreachable(exc)
            except Exception:
                log.exception("reading device %s failed", self.device.id)
            else:
                self.add(readings, datetime.now(UTC))
            await _sleep_unless_cancelled(self.device.poll_seconds)

    async def _subscribe(self) -> None:
        """Subscribe to the nodes until the connection drops; then again at the next poll."""
        while True:
            try:
                await self._subscription()
            except (DeviceUnreachableError, OSError, TimeoutError, UaError) as exc:
                self._unreachable(exc)
            except Exception:
                log.exception("subscribing to device %s failed", self.device.id)
            await _sleep_unless_cancelled(self.device.poll_seconds)

    async def _subscription(self) -> None:
        """One session: a subscription publishing every `poll_seconds`, until it is lost."""
        points = [p for p in self.device.points if isinstance(p, OpcuaPoint)]
        url = opcua_url(self.device.endpoint)
        client = Client(url, timeout=READ_TIMEOUT_SECONDS)
        lost = asyncio.Event()

        async def connection_lost(_exc: Exception) -> None:
            lost.set()

        client.connection_lost_callback = connection_lost
        try:
            if self.device.security is not None:
                problem = await secure(client, self.device.security)
                if problem is not None:
                    raise DeviceUnreachableError(problem)
            async with asyncio.timeout(READ_TIMEOUT_SECONDS * 2):
                await client.connect()
            if self._failing:
                log.info("device %s at %s answers again", self.device.id, shown(url))
                self._failing = False
            by_node = {ua.NodeId.from_string(p.node_id).to_string(): p for p in points}
            subscription = await client.create_subscription(
                self.device.poll_seconds * 1000, _Changes(self, by_node)
            )
            await subscription.subscribe_data_change(
                [client.get_node(node_id) for node_id in by_node]
            )
            await lost.wait()
            raise DeviceUnreachableError(f"{shown(url)}: connection lost")
        finally:
            with suppress(Exception):
                async with asyncio.timeout(READ_TIMEOUT_SECONDS):
                    await client.disconnect()

    async def _judging(self) -> None:
        """On each new sample, judge the window off the loop and send the alarms that are due."""
        loop = asyncio.get_running_loop()
        while True:
            await self._fresh.wait()
            self._fresh.clear()
            now = datetime.now(UTC)
            started = self._started or now
            curves = self._window.curves(now=now)
            try:
                alarms = await loop.run_in_executor(
                    self._executor, self._judge.alarms, curves, started, now
                )
            except Exception:
                log.exception("judging device %s failed", self.device.id)
                continue
            for alarm in due_alarms(alarms, self._last_sent, now, self._repeat):
                await self._report(alarm, now)

    async def _report(self, alarm: AlarmSummary, now: datetime) -> None:
        """Send one alarm with the latest readings; a failed send is tried at the next sample."""
        snapshot = snapshot_of(self.device, list(self._latest.values()), taken_at=now)
        try:
            await self._send(AlarmReport(summary=alarm, snapshot=snapshot))
        except Exception as exc:
            log.warning("alarm %s of device %s not sent: %s", alarm.type, self.device.id, exc)
            return
        log.info("alarm %s of device %s sent upstream", alarm.type, self.device.id)
        self._last_sent[alarm.type] = now


class _Changes:
    """asyncua's subscription handler: each data change becomes a reading of its point."""

    def __init__(self, watch: DeviceWatch, points: dict[str, OpcuaPoint]) -> None:
        self._watch = watch
        self._points = points

    def datachange_notification(self, node: Node, _val: Any, data: DataChangeNotif) -> None:
        """Add the changed node's reading to its device's window."""
        point = self._points.get(node.nodeid.to_string())
        if point is not None:
            reading = reading_of(point, data.monitored_item.Value)
            self._watch.add([reading], reading.source_time or datetime.now(UTC))


class DeviceMonitor:
    """Watches every device the registry lists for the site, refreshed every `refresh_seconds`."""

    def __init__(
        self,
        *,
        windows: DeviceWindows,
        devices: DeviceSource,
        send: AlarmSender,
        readers: Callable[[Device], DeviceReader] = reader_for,
        detector: Callable[[Device], DeviceAnomalyDetector] = DeviceAnomalyDetector,
        executor: Executor | None = None,
        refresh_seconds: float = REFRESH_SECONDS,
        learn_for: timedelta | None = None,
        repeat: timedelta = ALARM_REPEAT,
    ) -> None:
        self._windows = windows
        self._devices = devices
        self._send = send
        self._readers = readers
        self._detector = detector
        self._executor = executor
        self._refresh_seconds = refresh_seconds
        self._learn_for = learn_for
        self._repeat = repeat
        self._watches: dict[str, tuple[DeviceWatch, asyncio.Task[None]]] = {}

    @property
    def watched(self) -> dict[str, int]:
        """The version of each device watched now, by id."""
        return {key: watch.device.version for key, (watch, _task) in self._watches.items()}

    async def run(self) -> None:
        """Watch the site's devices until cancelled, then stop every watch."""
        executor = self._executor or ThreadPoolExecutor(JUDGES, thread_name_prefix="judge")
        try:
            while True:
                await self.refresh(executor)
                await _sleep_unless_cancelled(self._refresh_seconds)
        finally:
            for _watch, task in self._watches.values():
                task.cancel()
            await asyncio.gather(*(t for _w, t in self._watches.values()), return_exceptions=True)
            self._watches.clear()
            if self._executor is None:
                executor.shutdown(wait=False, cancel_futures=True)

    async def refresh(self, executor: Executor) -> None:
        """Start watching new devices and new versions, stop watching those gone."""
        try:
            devices = {device.id: device for device in await self._devices()}
        except Exception as exc:
            log.warning("could not read the site's devices, keeping the last list: %s", exc)
            return
        for device_id in list(self._watches):
            watch, task = self._watches[device_id]
            fresh = devices.get(device_id)
            if fresh is None or fresh.version != watch.device.version:
                task.cancel()
                del self._watches[device_id]
        for device_id, device in devices.items():
            if device_id not in self._watches:
                log.info(
                    "watching device %s@%d (%s, every %g s)",
                    device.id,
                    device.version,
                    device.protocol,
                    device.poll_seconds,
                )
                watch = self._watch(device, executor)
                self._watches[device_id] = (watch, asyncio.create_task(self._guarded(watch)))

    def _watch(self, device: Device, executor: Executor) -> DeviceWatch:
        learn_for = self._learn_for or timedelta(minutes=device.window_minutes)
        return DeviceWatch(
            device,
            window=self._windows.window(device.id, minutes=device.window_minutes),
            judge=Judge(device, self._detector(device), learn_for),
            readers=self._readers,
            send=self._send,
            executor=executor,
            repeat=self._repeat,
        )

    async def _guarded(self, watch: DeviceWatch) -> None:
        """A watch that fails for a reason of its own is logged; the others go on."""
        try:
            await watch.run()
        except Exception:
            log.exception("watching device %s stopped", watch.device.id)
