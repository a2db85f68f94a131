"""Snapshots on demand over HTTP: who may take and read them, a real pymodbus device read by an
edge worker for the site, what is stored and shown, and the problems."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from api.problems import PROBLEM_JSON
from domain.devices import Snapshot, canonical_json
from store import devices as store
from tests.activities.devices.servers import ModbusDevice, modbus_device
from tests.api.conftest import USERS, Api
from tests.api.test_devices_api import MODBUS
from workers.edge import build_edge_worker

# Caller -> status of: taking a snapshot of a device, of an unknown one, listing a device's
# snapshots, listing an unknown one's.
# fmt: off
EXPECTED: dict[str, tuple[int, int, int, int]] = {
    "owner":   (403, 403, 403, 403),  # process owner
    "rita":    (403, 403, 403, 403),  # requester
    "sam":     (403, 403, 403, 403),  # requester
    "dana":    (201, 404, 200, 404),  # agent
    "dora":    (201, 404, 200, 404),  # agent
    "otto":    (201, 404, 200, 404),  # agent
    "devi":    (201, 404, 200, 404),  # agent
    "audrey":  (403, 403, 200, 404),  # auditor
    "monitor": (403, 403, 403, 403),  # system
    "root":    (201, 404, 200, 404),  # admin
}
# fmt: on


@pytest.fixture(scope="module")
async def modbus() -> AsyncIterator[ModbusDevice]:
    """A pymodbus server on a free port: temperature 21.5 (scaled), running."""
    async with modbus_device() as device:
        await device.write("holding", 0, [215])
        await device.write("coil", 0, [True])
        yield device


@pytest.fixture
async def pump(api: Api, modbus: ModbusDevice) -> AsyncIterator[dict[str, Any]]:
    """pump-7 registered on the site `local` at the pymodbus server, and an edge worker for
    `local` while the test runs; yields the registered device."""
    device = {**MODBUS, "endpoint": f"tcp://{modbus.endpoint}"}
    registered = await api.http.post("/devices", json=device, headers=api.auth("owner"))
    assert registered.status_code == 201, registered.text
    async with build_edge_worker(client=api.env.client, site="local"):
        yield registered.json()


async def test_every_role_and_endpoint_answers_as_the_table_says(
    api: Api, pump: dict[str, Any]
) -> None:
    assert set(EXPECTED) == set(USERS)
    decided = {}
    for user in EXPECTED:
        calls = (
            await api.http.post("/devices/pump-7/snapshot", headers=api.auth(user)),
            await api.http.post("/devices/nowhere/snapshot", headers=api.auth(user)),
            await api.http.get("/devices/pump-7/snapshots", headers=api.auth(user)),
            await api.http.get("/devices/nowhere/snapshots", headers=api.auth(user)),
        )
        decided[user] = tuple(c.status_code for c in calls)
        for call in calls:
            if call.status_code >= 400:
                assert call.headers["content-type"] == PROBLEM_JSON
    assert decided == EXPECTED
    assert (await api.http.post("/devices/pump-7/snapshot")).status_code == 401
    assert (await api.http.get("/devices/pump-7/snapshots")).status_code == 401


async def test_a_snapshot_is_read_on_the_edge_stored_and_listed_newest_first(
    api: Api, pump: dict[str, Any], modbus: ModbusDevice
) -> None:
    taken = await api.http.post("/devices/pump-7/snapshot", headers=api.auth("dana"))
    assert taken.status_code == 201, taken.text
    await modbus.write("holding", 0, [300])
    later = await api.http.post("/devices/pump-7/snapshot", headers=api.auth("root"))
    await modbus.write("holding", 0, [215])
    first = taken.json()
    body = {k: v for k, v in first.items() if k != "sha256"}
    assert (
        (first["device_id"], first["device_version"], first["site"]),
        [(r["point"], r["value"], r["quality"]) for r in first["readings"]],
        [r["value"] for r in later.json()["readings"]],
        hashlib.sha256(canonical_json(body)).hexdigest(),
        set(first),
    ) == (
        ("pump-7", pump["version"], "local"),
        [("temperature", 21.5, "good"), ("running", True, "good")],
        [30.0, True],
        first["sha256"],
        set(Snapshot.model_fields),
    )
    listed = await api.http.get("/devices/pump-7/snapshots", headers=api.auth("audrey"))
    assert listed.json() == {"items": [later.json(), first]}
    one = await api.http.get(
        "/devices/pump-7/snapshots", params={"limit": 1}, headers=api.auth("audrey")
    )
    assert one.json() == {"items": [later.json()]}
    async with api.sessions() as session:
        rows = await store.list_snapshots(session=session, device_id="pump-7", limit=10)
    # Taken for no ticket: each is the asker's, in their department (usage metering).
    assert [(row.sha256, row.ticket_key, row.taken_by, row.department) for row in rows] == [
        (later.json()["sha256"], None, "root", "it"),
        (first["sha256"], None, "dana", "service-desk"),
    ]


async def test_curves_are_the_edge_workers_window(
    api: Api, pump: dict[str, Any], modbus: ModbusDevice
) -> None:
    curves = []
    for raw in (200, 210):
        await modbus.write("holding", 0, [raw])
        taken = await api.http.post(
            "/devices/pump-7/snapshot", params={"with_curves": "true"}, headers=api.auth("otto")
        )
        assert taken.status_code == 201, taken.text
        curves.append([sample["value"] for sample in taken.json()["curves"]["temperature"]])
    await modbus.write("holding", 0, [215])
    plain = await api.http.post("/devices/pump-7/snapshot", headers=api.auth("otto"))
    assert (curves, plain.json()["curves"]) == ([[20.0], [20.0, 21.0]], {})


async def test_bad_ids_and_limits_are_problems_with_pointers(api: Api) -> None:
    agent = api.auth("dana")
    bad_id = await api.http.post("/devices/-pump/snapshot", headers=agent)
    bad_limit = await api.http.get("/devices/pump-7/snapshots", params={"limit": 0}, headers=agent)
    unknown = await api.http.post("/devices/pump-9/snapshot", headers=agent)
    assert [
        (
            r.status_code,
            r.headers["content-type"],
            [e["pointer"] for e in r.json().get("errors", [])],
        )
        for r in (bad_id, bad_limit, unknown)
    ] == [
        (422, PROBLEM_JSON, ["path:/device_id"]),
        (422, PROBLEM_JSON, ["query:/limit"]),
        (404, PROBLEM_JSON, []),
    ]
    assert unknown.json()["detail"] == "no device pump-9"


@pytest.mark.parametrize(
    "api_settings",
    [{"snapshot_wait_seconds": 0.5, "device_hosts": {"dark": ["127.0.0.1"]}}],
    indirect=True,
)
async def test_a_snapshot_that_does_not_come_back_in_time_is_a_504_storing_nothing(
    api: Api,
) -> None:
    # No edge worker serves the site `dark`: its workflow waits for one for longer than the
    # app waits for the workflow.
    device = {**MODBUS, "id": "lamp-1", "site": "dark"}
    registered = await api.http.post("/devices", json=device, headers=api.auth("owner"))
    assert registered.status_code == 201, registered.text
    timed_out = await api.http.post("/devices/lamp-1/snapshot", headers=api.auth("dana"))
    assert (timed_out.status_code, timed_out.headers["content-type"]) == (504, PROBLEM_JSON)
    assert timed_out.json()["detail"] == "no snapshot of lamp-1 within 0.5 s"
    listed = await api.http.get("/devices/lamp-1/snapshots", headers=api.auth("dana"))
    assert listed.json() == {"items": []}
