"""The snapshot activity: read every point of a device once, and seal what was read."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.devices.reader import DeviceReader, DeviceUnreachableError, reader_for
from domain.device_reading import DEVICE_UNREACHABLE, snapshot_of
from domain.device_window import DeviceWindows
from domain.devices import (
    DEVICE_SNAPSHOT_ACTIVITY,
    SNAPSHOT_TIMEOUT_SECONDS,
    Device,
    Snapshot,
    SnapshotInput,
)

# Left of the activity's start-to-close timeout for raising DeviceUnreachable ourselves, so the
# failure names the device instead of being a bare Temporal timeout.
SNAPSHOT_MARGIN_SECONDS = 1.0


class DeviceSnapshots:
    """The edge worker's snapshot activity, with its windows of recent samples."""

    def __init__(
        self,
        *,
        windows: DeviceWindows | None = None,
        readers: Callable[[Device], DeviceReader] = reader_for,
    ) -> None:
        self._windows = windows or DeviceWindows()
        self._readers = readers

    @activity.defn(name=DEVICE_SNAPSHOT_ACTIVITY)
    async def snapshot(self, request: SnapshotInput) -> Snapshot:
        """Every point read once, sealed; an unreachable device fails retryably."""
        device = request.device
        taken_at = datetime.now(UTC)
        try:
            async with asyncio.timeout(SNAPSHOT_TIMEOUT_SECONDS - SNAPSHOT_MARGIN_SECONDS):
                readings = await self._readers(device).read(progress=activity.heartbeat)
        except DeviceUnreachableError as exc:
            raise ApplicationError(f"{device.id}: {exc}", type=DEVICE_UNREACHABLE) from exc
        except TimeoutError as exc:
            raise ApplicationError(
                f"{device.id}: no answer within {SNAPSHOT_TIMEOUT_SECONDS}s",
                type=DEVICE_UNREACHABLE,
            ) from exc
        window = self._windows.window(device.id, minutes=device.window_minutes)
        window.add(readings, at=taken_at)
        curves = window.curves(now=taken_at) if request.with_curves else {}
        return snapshot_of(device, readings, taken_at=taken_at, curves=curves)
