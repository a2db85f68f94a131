"""Device snapshots as ticket evidence: what a ticket asks for, and what it records.

A snapshot is taken in two places: at creation, for an intake that names a registered device
in `device_id`, and by a `device.snapshot` service stage. Both run the same way: the ticket
worker looks the device up in the registry (`DEVICE_LOOKUP_ACTIVITY`), and the ticket's
workflow starts a `DeviceSnapshotWorkflow` child (domain.device_snapshot), the one way every
snapshot is read: the snapshot activity on the device's edge queue with `SNAPSHOT_RETRY`, and
`unreachable_snapshot` when no attempt read the device, so the ticket goes on. The workflow
never writes: the sealed snapshot rides with its `device_snapshot_taken` event to the
projection, which stores it with the ticket's key.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pydantic import BaseModel

from domain.devices import Snapshot

DEVICE_LOOKUP_ACTIVITY = "device_lookup"
# The lookup's refusal: the registry has no device of that id (retrying will not add one).
DEVICE_NOT_FOUND = "DeviceNotFound"
# The event recording a snapshot (TicketState writes the literal, as for every event type).
DEVICE_SNAPSHOT_TAKEN = "device_snapshot_taken"
# The intake field that names the ticket's device.
INTAKE_DEVICE_FIELD = "device_id"
# One small read of the registry.
LOOKUP_TIMEOUT = timedelta(seconds=10)


class DeviceLookupInput(BaseModel):
    """Which registered device a ticket wants read (its latest version)."""

    ticket_key: str
    device_id: str


def intake_device(intake: dict[str, Any]) -> str | None:
    """The device the intake names, if it names one (a non-empty `device_id` text)."""
    value = intake.get(INTAKE_DEVICE_FIELD)
    return value if isinstance(value, str) and value else None


def snapshot_target(params: dict[str, Any]) -> str:
    """The device id a `device.snapshot` stage's evaluated parameters name.

    ValueError when an expression gave something other than a non-empty text.
    """
    value = params.get("device")
    if not isinstance(value, str) or not value:
        raise ValueError(f"`device` must be a device id (text), not {type(value).__name__}")
    return value


def reading_counts(snapshot: Snapshot) -> tuple[int, int]:
    """How many of the snapshot's readings are good, and how many bad."""
    good = sum(1 for reading in snapshot.readings if reading.quality == "good")
    return good, len(snapshot.readings) - good


def snapshot_summary(snapshot: Snapshot) -> dict[str, Any]:
    """The stage's data: the seal, the counts and each point's value, unit and quality."""
    good, bad = reading_counts(snapshot)
    return {
        "device_id": snapshot.device_id,
        "taken_at": snapshot.taken_at.isoformat(),
        "sha256": snapshot.sha256,
        "good": good,
        "bad": bad,
        "points": {
            reading.point: {
                "value": reading.value,
                "unit": reading.unit,
                "quality": reading.quality,
            }
            for reading in snapshot.readings
        },
    }


def evidence_data(snapshot: Snapshot) -> dict[str, Any]:
    """What the `device_snapshot_taken` event says: which snapshot, and how good it was."""
    good, bad = reading_counts(snapshot)
    return {
        "device_id": snapshot.device_id,
        "sha256": snapshot.sha256,
        "taken_at": snapshot.taken_at.isoformat(),
        "good": good,
        "bad": bad,
    }
