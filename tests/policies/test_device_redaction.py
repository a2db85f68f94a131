"""A device's registry entry and its snapshots by declared shape: file paths for admins, the
readings for device readers, nothing undeclared."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from domain.device_reading import snapshot_of
from domain.devices import (
    Device,
    ModbusPoint,
    OpcuaPoint,
    OpcuaSecurity,
    Reading,
    Sample,
    Snapshot,
    Threshold,
)
from policies.devices import (
    DEVICE_SHAPE,
    POINT_SHAPE,
    READING_SHAPE,
    SECURITY_SHAPE,
    SNAPSHOT_SHAPE,
    redact_device,
    redact_snapshot,
)
from policies.roles import ROLES
from tests.domain.test_device_checks import MODBUS, OPCUA

ENTRY = {
    **Device.model_validate(OPCUA).model_dump(mode="json"),
    "registered_at": "2026-12-01T09:00:00Z",
    "registered_by": "owner",
}
FILES = {"certificate", "private_key", "server_certificate"}
# Roles -> what they see of the entry: "all", "no files" or "nothing".
SEES = {
    "admin": "all",
    "agent": "no files",
    "auditor": "no files",
    "process_owner": "no files",
    "requester": "nothing",
    "system": "nothing",
}


def test_the_table_covers_every_role() -> None:
    assert set(SEES) == set(ROLES)


@pytest.mark.parametrize("role", sorted(SEES))
def test_each_role_sees_what_the_table_says(role: str) -> None:
    shown = redact_device(ENTRY, role)
    if SEES[role] == "nothing":
        assert shown == {}
        return
    assert shown["points"] == ENTRY["points"]
    assert shown["thresholds"] == ENTRY["thresholds"]
    assert set(shown) == set(ENTRY)
    security = ENTRY["security"]
    expected = security if SEES[role] == "all" else {k: security[k] for k in ("mode", "policy")}
    assert shown["security"] == expected


def test_what_the_shape_does_not_declare_is_removed_at_every_depth() -> None:
    entry = {
        **ENTRY,
        "secret": "x",
        "security": {**ENTRY["security"], "password": "hunter2"},
        "points": [{**ENTRY["points"][0], "note": "x"}],
        "thresholds": {"temperature": {**ENTRY["thresholds"]["temperature"], "hint": "x"}},
    }
    assert redact_device(entry, "admin") == ENTRY


def test_a_modbus_device_without_security_shows_whole() -> None:
    entry = Device.model_validate(MODBUS).model_dump(mode="json")
    assert entry["security"] is None
    assert redact_device(entry, "agent") == entry


def test_the_shape_declares_every_field_of_the_models() -> None:
    assert set(DEVICE_SHAPE) == {*Device.model_fields, "registered_at", "registered_by"}
    assert set(POINT_SHAPE) == {*ModbusPoint.model_fields, *OpcuaPoint.model_fields}
    assert set(SECURITY_SHAPE) == set(OpcuaSecurity.model_fields)
    assert {"high", "low"} == set(Threshold.model_fields)
    assert set(SECURITY_SHAPE) > FILES


AT = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
SNAPSHOT = snapshot_of(
    Device.model_validate(MODBUS),
    [
        Reading(point="temperature", value=21.5, unit="°C", source_time=AT),
        Reading(point="running", quality="bad", reason="ILLEGAL_ADDRESS (2)"),
    ],
    taken_at=AT,
    curves={"temperature": [Sample(at=AT, value=21.5)]},
).model_dump(mode="json")
# Roles -> whether they see a snapshot: those who read devices, not those who register them.
SEES_SNAPSHOTS = {
    "admin": True,
    "agent": True,
    "auditor": True,
    "process_owner": False,
    "requester": False,
    "system": False,
}


@pytest.mark.parametrize("role", sorted(SEES_SNAPSHOTS))
def test_a_snapshot_is_shown_whole_to_device_readers_only(role: str) -> None:
    assert set(SEES_SNAPSHOTS) == set(ROLES)
    assert redact_snapshot(SNAPSHOT, role) == (SNAPSHOT if SEES_SNAPSHOTS[role] else {})


def test_what_the_snapshot_shape_does_not_declare_is_removed_at_every_depth() -> None:
    document = {
        **SNAPSHOT,
        "ticket_key": "T-1",
        "readings": [{**SNAPSHOT["readings"][0], "raw": [1, 2]}, SNAPSHOT["readings"][1]],
        "curves": {"temperature": [{**SNAPSHOT["curves"]["temperature"][0], "raw": 3}]},
    }
    assert redact_snapshot(document, "admin") == SNAPSHOT


def test_the_snapshot_shape_declares_every_field_of_the_models() -> None:
    assert set(SNAPSHOT_SHAPE) == set(Snapshot.model_fields)
    assert set(READING_SHAPE) == set(Reading.model_fields)
