"""What reading a device promises its callers: timeouts, the retry policy, and the fallbacks.

A read that reaches the device always yields a snapshot: a point it cannot decode, or one the
device refuses, is a bad reading with its reason. Only an unreachable device fails the
activity (retryably); when the retries are spent, `unreachable_snapshot` lets the ticket go on.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from domain.definitions import RetrySpec
from domain.devices import SNAPSHOT_TIMEOUT_SECONDS, Device, Reading, Sample, Snapshot, seal

DEVICE_UNREACHABLE = "DeviceUnreachable"
# One request (connect, one Modbus read, the OPC UA read): several fit in one snapshot.
READ_TIMEOUT_SECONDS = 2.0
# The activity's heartbeat timeout: a heartbeat goes out before and after every request (an
# OPC UA connect, several requests in one, may take twice the read timeout).
SNAPSHOT_HEARTBEAT_SECONDS = 3 * READ_TIMEOUT_SECONDS
# What callers of the snapshot activity set: a few quick attempts, since a ticket waits on them.
SNAPSHOT_RETRY = RetrySpec(
    maximum_attempts=3,
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=4),
)
SNAPSHOT_START_TO_CLOSE = timedelta(seconds=SNAPSHOT_TIMEOUT_SECONDS)
# Configuration errors become bad readings, so no failure of the activity is final.
SNAPSHOT_NON_RETRYABLE_ERRORS: tuple[str, ...] = ()

Value = float | int | bool


def scaled(raw: Value, *, scale: float, offset: float) -> Value:
    """`raw * scale + offset`; a bool as it is, an integer stays one under the identity."""
    if isinstance(raw, bool) or (scale == 1 and offset == 0):
        return raw
    return raw * scale + offset


def finite(value: Value) -> bool:
    """Whether a value can travel in a snapshot (canonical JSON has no NaN or infinity)."""
    return not isinstance(value, float) or math.isfinite(value)


def opcua_url(endpoint: str) -> str:
    """The endpoint if it is an OPC UA TCP URL with a host (`opc.tcp://host:port/path`)."""
    parts = urlsplit(endpoint)
    if parts.scheme != "opc.tcp" or not parts.hostname:
        raise ValueError(f"not an OPC UA endpoint (opc.tcp://host:port/...): {endpoint!r}")
    try:
        parts.port  # noqa: B018 (urlsplit checks the port only when asked for it)
    except ValueError:
        raise ValueError(f"not a valid port in {endpoint!r}") from None
    return endpoint


def bad(device: Device, reason: str, *, at: datetime | None = None) -> list[Reading]:
    """Every point of the device as a bad reading for the same reason."""
    return [
        Reading(point=point.name, unit=point.unit, quality="bad", reason=reason, source_time=at)
        for point in device.points
    ]


def snapshot_of(
    device: Device,
    readings: list[Reading],
    *,
    taken_at: datetime,
    curves: Mapping[str, list[Sample]] | None = None,
) -> Snapshot:
    """The sealed snapshot of these readings of the device."""
    return seal(
        Snapshot(
            device_id=device.id,
            device_version=device.version,
            site=device.site,
            taken_at=taken_at,
            readings=readings,
            curves=dict(curves or {}),
        )
    )


def unreachable_snapshot(device: Device, *, taken_at: datetime, error: str) -> Snapshot:
    """The sealed snapshot a caller records when the retries are spent: every reading bad."""
    return snapshot_of(device, bad(device, f"unreachable: {error}"), taken_at=taken_at)
