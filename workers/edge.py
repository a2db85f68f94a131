"""The edge worker: one site's device snapshots and monitoring, in the plant.

It needs only Temporal: snapshots come to it on the site's own task queue, it reads the
site's registry through `SiteDevicesWorkflow` (run by the ticket worker, which holds the
database) and sends alarm reports to each device's `DeviceAlarmsWorkflow` with
signal-with-start. Raw samples stay in its `DeviceWindows`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta

from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.worker import Worker

from activities.devices.monitoring import (
    REFRESH_SECONDS,
    AlarmSender,
    DeviceMonitor,
    DeviceSource,
)
from activities.devices.reader import reader_for
from activities.devices.snapshot import DeviceSnapshots
from domain.device_alarm_tickets import (
    ALARM_REPEAT,
    ALARM_SIGNAL,
    DEVICE_ALARMS_WORKFLOW,
    SITE_DEVICES_TIMEOUT,
    SITE_DEVICES_WORKFLOW,
    AlarmReport,
    DeviceAlarmsInput,
    SiteDevices,
    SiteDevicesInput,
    alarms_workflow_id,
    site_devices_workflow_id,
)
from domain.device_reading import SNAPSHOT_START_TO_CLOSE
from domain.device_window import DeviceWindows
from domain.devices import Device, edge_queue
from triage.device_anomaly import DeviceAnomalyDetector

# A registry read nobody serves (no ticket worker yet) gives up after this; the edge keeps
# its last list and asks again at the next refresh.
REGISTRY_READ_TIMEOUT = 2 * SITE_DEVICES_TIMEOUT


def build_edge_worker(*, client: Client, site: str, windows: DeviceWindows | None = None) -> Worker:
    """A worker serving `device_snapshot` on `edge-<site>`, with the windows of recent
    samples kept for as long as the worker runs (raw samples never leave it)."""
    snapshots = DeviceSnapshots(windows=windows or DeviceWindows(), readers=reader_for)
    return Worker(
        client,
        task_queue=edge_queue(site),
        activities=[snapshots.snapshot],
        # A snapshot being read when the worker is stopped finishes (its reads are bounded)
        # instead of failing an attempt that another worker would have to start again.
        graceful_shutdown_timeout=SNAPSHOT_START_TO_CLOSE,
    )


def registry_source(*, client: Client, site: str, task_queue: str) -> DeviceSource:
    """The site's devices, read by the ticket worker on `task_queue`."""

    async def devices() -> list[Device]:
        result: SiteDevices = await client.execute_workflow(
            SITE_DEVICES_WORKFLOW,
            SiteDevicesInput(site=site),
            id=site_devices_workflow_id(site),
            task_queue=task_queue,
            result_type=SiteDevices,
            execution_timeout=REGISTRY_READ_TIMEOUT,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )
        return result.devices

    return devices


def alarm_sender(*, client: Client, task_queue: str) -> AlarmSender:
    """Signal-with-start of the device's alarm workflow on the ticket worker's queue."""

    async def send(report: AlarmReport) -> None:
        device_id = report.summary.device_id
        await client.start_workflow(
            DEVICE_ALARMS_WORKFLOW,
            DeviceAlarmsInput(device_id=device_id),
            id=alarms_workflow_id(device_id),
            task_queue=task_queue,
            start_signal=ALARM_SIGNAL,
            start_signal_args=[report],
        )

    return send


@asynccontextmanager
async def edge_site(
    *,
    client: Client,
    site: str,
    task_queue: str,
    refresh_seconds: float = REFRESH_SECONDS,
    learn_for: timedelta | None = None,
    detector: Callable[[Device], DeviceAnomalyDetector] = DeviceAnomalyDetector,
    repeat: timedelta = ALARM_REPEAT,
) -> AsyncIterator[DeviceMonitor]:
    """The site's edge worker and its monitoring, sharing one set of windows, until exit.

    `learn_for` is how long each device's first normal window lasts (its `window_minutes`
    by default), `detector` makes each device's anomaly detector, and a lasting alarm is sent
    again every `repeat`.
    """
    windows = DeviceWindows()
    monitor = DeviceMonitor(
        windows=windows,
        devices=registry_source(client=client, site=site, task_queue=task_queue),
        send=alarm_sender(client=client, task_queue=task_queue),
        refresh_seconds=refresh_seconds,
        learn_for=learn_for,
        detector=detector,
        repeat=repeat,
    )
    async with build_edge_worker(client=client, site=site, windows=windows):
        watching = asyncio.create_task(monitor.run())
        try:
            yield monitor
        finally:
            watching.cancel()
            await asyncio.gather(watching, return_exceptions=True)
