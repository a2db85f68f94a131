"""A device's registry entry by declared shape: file paths for admins, nothing undeclared."""

from __future__ import annotations

import pytest

from domain.devices import Device, ModbusPoint, OpcuaPoint, OpcuaSecurity, Threshold
from policies.devices import DEVICE_SHAPE, POINT_SHAPE, SECURITY_SHAPE, redact_device
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
