"""Devices as data: a registry entry per device, its points, and what a snapshot of them holds.

A device is read on its site's edge worker (task queue `edge-<site>`), inside the plant: the
registry says where it is and how to decode its points; a snapshot is what travels upstream,
each value with its unit, quality and timestamps, sealed by the SHA-256 of its canonical JSON.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Protocol = Literal["modbus-tcp", "opcua"]
RegisterKind = Literal["holding", "input", "coil", "discrete"]
ValueType = Literal["int16", "uint16", "int32", "uint32", "float32", "bool"]
Order = Literal["big", "little"]
Quality = Literal["good", "bad"]

NAME_PATTERN = r"^[a-z][a-z0-9_]{0,62}$"
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$"
SITE_PATTERN = r"^[a-z0-9][a-z0-9-]{0,39}$"
MAX_POINTS = 500
DEVICE_SNAPSHOT_ACTIVITY = "device_snapshot"
# How long one snapshot may take on the edge worker, reads and retries of a read included.
SNAPSHOT_TIMEOUT_SECONDS = 10


def edge_queue(site: str) -> str:
    """The task queue a site's edge worker serves."""
    return f"edge-{site}"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# `register` is Modbus' own word for a point's table, and the field shadows `ABCMeta.register`
# (how a class names virtual subclasses), which nothing calls on these models: the warning
# pydantic gives for that is silenced for this one class.
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", 'Field name "register"', UserWarning)

    class ModbusPoint(_Strict):
        """One value on a Modbus device: where it lives and how its registers decode."""

        name: str = Field(pattern=NAME_PATTERN)
        # Field(): without it pydantic takes the inherited `register` for a default.
        register: RegisterKind = Field()
        address: int = Field(ge=0, le=65535)
        type: ValueType = "uint16"
        byte_order: Order = "big"
        word_order: Order = "big"
        scale: float = 1.0
        offset: float = 0.0
        unit: str = Field(default="", max_length=20)


class OpcuaPoint(_Strict):
    """One node on an OPC UA server."""

    name: str = Field(pattern=NAME_PATTERN)
    node_id: str = Field(min_length=1, max_length=200, description="e.g. ns=1;s=Device1.Temp")
    unit: str = Field(default="", max_length=20)


class OpcuaSecurity(_Strict):
    """How to connect to an OPC UA server that requires signing or encryption."""

    mode: Literal["Sign", "SignAndEncrypt"]
    policy: Literal["Basic256Sha256", "Aes128Sha256RsaOaep", "Aes256Sha256RsaPss"]
    certificate: str = Field(min_length=1, description="The client's certificate file (PEM/DER).")
    private_key: str = Field(min_length=1, description="The client's private key file.")
    server_certificate: str | None = None


class Threshold(_Strict):
    """A point's alarm limits (either or both), from the device profile."""

    high: float | None = None
    low: float | None = None


class Device(_Strict):
    """A registered device: its site, protocol, endpoint and points."""

    id: str = Field(pattern=ID_PATTERN)
    site: str = Field(pattern=SITE_PATTERN)
    model: str = Field(min_length=1, max_length=80)
    protocol: Protocol
    endpoint: str = Field(min_length=1, max_length=300)
    unit_id: int | None = Field(default=None, ge=0, le=247, description="Modbus only.")
    security: OpcuaSecurity | None = Field(default=None, description="OPC UA only.")
    points: Annotated[list[ModbusPoint] | list[OpcuaPoint], Field(min_length=1)]
    window_minutes: int = Field(default=5, ge=1, le=60, description="Samples the edge keeps.")
    poll_seconds: float = Field(default=1.0, ge=0.05, le=3600)
    thresholds: dict[str, Threshold] = Field(default_factory=dict)
    version: int = Field(default=0, description="Assigned by the registry on each change.")


class Reading(BaseModel):
    """One point's value in a snapshot, or why there is none."""

    point: str
    value: float | int | bool | None = None
    unit: str = ""
    quality: Quality = "good"
    reason: str | None = Field(default=None, description="Why the quality is bad.")
    source_time: datetime | None = None
    server_time: datetime | None = None


class Sample(BaseModel):
    """One value of a point's recent curve."""

    at: datetime
    value: float | int | bool


class Snapshot(BaseModel):
    """Every point of one device read at one time, sealed by the hash of its canonical JSON."""

    device_id: str
    device_version: int
    site: str
    taken_at: datetime
    readings: list[Reading]
    curves: dict[str, list[Sample]] = Field(default_factory=dict)
    sha256: str = ""


class SnapshotInput(BaseModel):
    """What the snapshot activity reads: the device as registered, and whether to add curves."""

    device: Device
    with_curves: bool = False


def canonical_json(value: Any) -> bytes:
    """JSON with sorted keys and no spaces: the same bytes for the same data."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def seal(snapshot: Snapshot) -> Snapshot:
    """The snapshot with `sha256` set to the hash of its canonical JSON (without the hash)."""
    body = snapshot.model_dump(mode="json", exclude={"sha256"})
    return snapshot.model_copy(update={"sha256": hashlib.sha256(canonical_json(body)).hexdigest()})
