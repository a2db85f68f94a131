"""Scaling, the retry policy callers use, and the snapshot a spent retry leaves behind."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest

from domain.device_reading import (
    SNAPSHOT_RETRY,
    SNAPSHOT_START_TO_CLOSE,
    Value,
    finite,
    opcua_url,
    scaled,
    unreachable_snapshot,
)
from domain.devices import SNAPSHOT_TIMEOUT_SECONDS, Device, ModbusPoint, canonical_json

DEVICE = Device(
    id="press-7",
    site="plant-a",
    model="P7",
    protocol="modbus-tcp",
    endpoint="127.0.0.1:5020",
    points=[
        ModbusPoint(name="temp", register="holding", address=0, unit="°C"),
        ModbusPoint(name="run", register="coil", address=0, type="bool"),
    ],
    version=4,
)


@pytest.mark.parametrize(
    ("raw", "scale", "offset", "expected"),
    [
        (215, 1.0, 0.0, 215),
        (215, 0.1, 0.0, 21.5),
        (10, 2.0, -5.0, 15.0),
        (-3, 1.0, 0.5, -2.5),
        (1.5, 2.0, 1.0, 4.0),
        (True, 10.0, 3.0, True),
    ],
)
def test_scaled(raw: Value, scale: float, offset: float, expected: Value) -> None:
    value = scaled(raw, scale=scale, offset=offset)
    assert (value, type(value)) == (pytest.approx(expected), type(expected))


def test_integers_stay_integers_under_the_identity() -> None:
    assert type(scaled(7, scale=1, offset=0)) is int


@pytest.mark.parametrize(("value", "ok"), [(1.0, True), (float("nan"), False), (3, True)])
def test_finite(value: Value, ok: bool) -> None:
    assert finite(value) is ok


def test_the_retries_fit_a_ticket_waiting_on_them() -> None:
    waits = sum(
        min(
            SNAPSHOT_RETRY.initial_interval * SNAPSHOT_RETRY.backoff_coefficient**n,
            SNAPSHOT_RETRY.maximum_interval,
        ).total_seconds()
        for n in range(SNAPSHOT_RETRY.maximum_attempts - 1)
    )
    attempts = SNAPSHOT_RETRY.maximum_attempts * SNAPSHOT_START_TO_CLOSE.total_seconds()
    assert (attempts + waits, SNAPSHOT_START_TO_CLOSE.total_seconds()) == (
        33.0,
        SNAPSHOT_TIMEOUT_SECONDS,
    )


def test_an_unreachable_snapshot_is_all_bad_and_sealed() -> None:
    at = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    snapshot = unreachable_snapshot(DEVICE, taken_at=at, error="connection refused")
    body = snapshot.model_dump(mode="json", exclude={"sha256"})
    assert (
        [(r.point, r.unit, r.quality, r.reason) for r in snapshot.readings],
        (snapshot.device_id, snapshot.device_version, snapshot.site, snapshot.taken_at),
        snapshot.sha256,
    ) == (
        [
            ("temp", "°C", "bad", "unreachable: connection refused"),
            ("run", "", "bad", "unreachable: connection refused"),
        ],
        ("press-7", 4, "plant-a", at),
        hashlib.sha256(canonical_json(body)).hexdigest(),
    )


@pytest.mark.parametrize("endpoint", ["opc.tcp://10.0.0.9:4840/", "opc.tcp://plc.plant/ua/server"])
def test_opcua_url(endpoint: str) -> None:
    assert opcua_url(endpoint) == endpoint


@pytest.mark.parametrize(
    "endpoint", ["10.0.0.9:4840", "opc.tcp://", "http://h:4840/", "opc.tcp://h:port/"]
)
def test_opcua_url_refuses(endpoint: str) -> None:
    with pytest.raises(ValueError, match=r"endpoint|port"):
        opcua_url(endpoint)
