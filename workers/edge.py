"""The edge worker: one site's device snapshots, on the site's own task queue, in the plant."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.worker import Worker

from activities.devices.reader import reader_for
from activities.devices.snapshot import DeviceSnapshots
from domain.device_reading import SNAPSHOT_START_TO_CLOSE
from domain.device_window import DeviceWindows
from domain.devices import edge_queue


def build_edge_worker(*, client: Client, site: str) -> Worker:
    """A worker serving `device_snapshot` on `edge-<site>`, with one set of windows of recent
    samples kept for as long as the worker runs (raw samples never leave it)."""
    snapshots = DeviceSnapshots(windows=DeviceWindows(), readers=reader_for)
    return Worker(
        client,
        task_queue=edge_queue(site),
        activities=[snapshots.snapshot],
        # A snapshot being read when the worker is stopped finishes (its reads are bounded)
        # instead of failing an attempt that another worker would have to start again.
        graceful_shutdown_timeout=SNAPSHOT_START_TO_CLOSE,
    )
