"""Snapshots on demand: the workflow's name, its input and output, and how long it may take.

`DeviceSnapshotWorkflow` runs on the ticket worker's queue and executes the snapshot activity
on the device's edge queue; whatever happens there it returns a snapshot (the unreachable one
when no attempt read the device), and always within `SNAPSHOT_LONGEST`.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel

from domain.definitions import RetrySpec
from domain.device_reading import (
    SNAPSHOT_HEARTBEAT_SECONDS,
    SNAPSHOT_RETRY,
    SNAPSHOT_START_TO_CLOSE,
)
from domain.devices import Device, Snapshot

DEVICE_SNAPSHOT_WORKFLOW = "DeviceSnapshotWorkflow"
# An edge worker that polls its queue starts a task within milliseconds; a queue nobody has
# served for this long has no worker (the site is down, or has no edge worker at all), and
# waiting longer would only keep the caller waiting for the same unreachable snapshot.
SNAPSHOT_SCHEDULE_TO_START = timedelta(seconds=5)
SNAPSHOT_HEARTBEAT = timedelta(seconds=SNAPSHOT_HEARTBEAT_SECONDS)


def retry_waits(spec: RetrySpec) -> timedelta:
    """The total backoff between the attempts of a retry policy, when every attempt fails."""
    total, wait = timedelta(0), spec.initial_interval
    for _ in range(spec.maximum_attempts - 1):
        # A maximum below the initial interval waits the initial interval (as Temporal is told).
        total += min(wait, max(spec.maximum_interval, spec.initial_interval))
        wait = wait * spec.backoff_coefficient
    return total


# The activity's schedule-to-close bound, so the workflow ends within it: the first attempt's
# wait for a worker, then every attempt at its longest with the backoffs between them.
SNAPSHOT_LONGEST = (
    SNAPSHOT_SCHEDULE_TO_START
    + SNAPSHOT_RETRY.maximum_attempts * SNAPSHOT_START_TO_CLOSE
    + retry_waits(SNAPSHOT_RETRY)
)


class DeviceSnapshotInput(BaseModel):
    """The device as registered, and whether the snapshot carries the edge's recent curves."""

    device: Device
    with_curves: bool = False


class DeviceSnapshotResult(BaseModel):
    """The snapshot taken, and why the device could not be read when it could not."""

    snapshot: Snapshot
    unreachable: str | None = None


def snapshot_workflow_id(device_id: str, nonce: str) -> str:
    """The id of one snapshot workflow of a device (`nonce` keeps each request apart)."""
    return f"device-snapshot:{device_id}:{nonce}"
