"""Device entries and their snapshots as a reader sees them: declared shapes, deny by default.

Each key of a device has a rule: `SHOWN` (whoever reads or registers devices), `FILES` (the client
certificate and key paths of an OPC UA device: admins only), a mapping (an object whose keys
have rules of their own), `Items(...)` (a list, each item by the rule) or `Each(...)` (an
object keyed by free names, such as point names, each value by the rule). A key the shape does
not declare is removed, so a field added to the device is hidden until it is declared here.
A snapshot's readings and curves are shown to whoever reads devices (`READINGS`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from policies.authorization import (
    READ_DEVICES,
    REGISTER_DEVICES,
    SEE_DEVICE_FILES,
    TAKE_SNAPSHOTS,
    may_call,
)


@dataclass(frozen=True)
class Shown:
    """A value shown to callers of these roles (admins always)."""

    roles: tuple[str, ...]


@dataclass(frozen=True)
class Items:
    """A list whose every item has this rule."""

    rule: Any


@dataclass(frozen=True)
class Each:
    """An object with free keys whose every value has this rule."""

    rule: Any


# Whoever reads devices or registers them (a registration answers with the stored device).
SHOWN = Shown((*READ_DEVICES, *REGISTER_DEVICES))
FILES = Shown(SEE_DEVICE_FILES)
# Whoever reads devices or takes their snapshots; registering a device shows none of its values.
READINGS = Shown((*READ_DEVICES, *TAKE_SNAPSHOTS))

POINT_SHAPE: dict[str, Any] = dict.fromkeys(
    (
        "name",
        "register",
        "address",
        "type",
        "byte_order",
        "word_order",
        "scale",
        "offset",
        "unit",
        "node_id",
    ),
    SHOWN,
)
SECURITY_SHAPE: dict[str, Any] = {
    "mode": SHOWN,
    "policy": SHOWN,
    "certificate": FILES,
    "private_key": FILES,
    "server_certificate": FILES,
}
DEVICE_SHAPE: dict[str, Any] = {
    **dict.fromkeys(
        (
            "id",
            "site",
            "model",
            "protocol",
            "endpoint",
            "unit_id",
            "window_minutes",
            "poll_seconds",
            "version",
            "registered_at",
            "registered_by",
        ),
        SHOWN,
    ),
    "security": SECURITY_SHAPE,
    "points": Items(POINT_SHAPE),
    "thresholds": Each({"high": SHOWN, "low": SHOWN}),
}

READING_SHAPE: dict[str, Any] = dict.fromkeys(
    ("point", "value", "unit", "quality", "reason", "source_time", "server_time"), READINGS
)
SNAPSHOT_SHAPE: dict[str, Any] = {
    **dict.fromkeys(("device_id", "device_version", "site", "taken_at", "sha256"), READINGS),
    "readings": Items(READING_SHAPE),
    "curves": Each(Items({"at": READINGS, "value": READINGS})),
}


def _apply(rule: Any, value: Any, role: str) -> tuple[bool, Any]:
    """Whether the value is shown, and what of it."""
    if isinstance(rule, Shown):
        return may_call(role, rule.roles), value
    if value is None:
        return True, None
    if isinstance(rule, Items) and isinstance(value, list):
        return True, [_apply(rule.rule, item, role)[1] for item in value]
    if isinstance(rule, Each) and isinstance(value, Mapping):
        return True, {key: _apply(rule.rule, item, role)[1] for key, item in value.items()}
    if isinstance(rule, Mapping) and isinstance(value, Mapping):
        return True, _object(rule, value, role)
    return False, None


def _object(shape: Mapping[str, Any], value: Mapping[str, Any], role: str) -> dict[str, Any]:
    out = {}
    for key, item in value.items():
        if key in shape:
            shown, kept = _apply(shape[key], item, role)
            if shown:
                out[key] = kept
    return out


def redact_device(document: Mapping[str, Any], role: str) -> dict[str, Any]:
    """The registry entry as a caller of this role sees it: only what the shape declares.

    A caller who may neither read nor register devices sees nothing, not even its shape.
    """
    if not may_call(role, SHOWN.roles):
        return {}
    return _object(DEVICE_SHAPE, document, role)


def redact_snapshot(document: Mapping[str, Any], role: str) -> dict[str, Any]:
    """A stored snapshot as a caller of this role sees it: only what the shape declares."""
    if not may_call(role, READINGS.roles):
        return {}
    return _object(SNAPSHOT_SHAPE, document, role)
