"""The device registry over HTTP: who may do what, every problem at once, redacted entries."""

from __future__ import annotations

import copy
from typing import Any

import yaml

from api.problems import PROBLEM_JSON
from tests.api.conftest import USERS, Api

MODBUS: dict[str, Any] = {
    "id": "pump-7",
    "site": "local",
    "model": "Acme PLC 200",
    "protocol": "modbus-tcp",
    "endpoint": "tcp://127.0.0.1:502",
    "unit_id": 1,
    "points": [
        {"name": "temperature", "register": "holding", "address": 0, "scale": 0.1},
        {"name": "running", "register": "coil", "address": 0, "type": "bool"},
    ],
    "thresholds": {"temperature": {"high": 80}},
}
OPCUA: dict[str, Any] = {
    "id": "oven-2",
    "site": "local",
    "model": "Oven X",
    "protocol": "opcua",
    "endpoint": "opc.tcp://localhost:4840/freeopcua/server/",
    "security": {
        "mode": "Sign",
        "policy": "Basic256Sha256",
        "certificate": "/etc/ticketflow/client.pem",
        "private_key": "/etc/ticketflow/client.key",
    },
    "points": [{"name": "temperature", "node_id": "ns=2;s=Oven.Temp"}],
}

# Caller -> status of: registering a device, listing, reading one, reading an unknown one.
# fmt: off
EXPECTED: dict[str, tuple[int, int, int, int]] = {
    "owner":   (201, 403, 403, 403),  # process owner
    "rita":    (403, 403, 403, 403),  # requester
    "sam":     (403, 403, 403, 403),  # requester
    "dana":    (403, 200, 200, 404),  # agent
    "dora":    (403, 200, 200, 404),  # agent
    "otto":    (403, 200, 200, 404),  # agent
    "devi":    (403, 200, 200, 404),  # agent
    "audrey":  (403, 200, 200, 404),  # auditor
    "monitor": (403, 403, 403, 403),  # system
    "root":    (201, 200, 200, 404),  # admin
}
# fmt: on


async def test_every_role_and_endpoint_answers_as_the_table_says(api: Api) -> None:
    assert set(EXPECTED) == set(USERS)
    registered = await api.http.post("/devices", json=MODBUS, headers=api.auth("root"))
    assert registered.status_code == 201, registered.text
    decided = {}
    for user in EXPECTED:
        mine = {**MODBUS, "id": f"pump-{user}"}
        calls = (
            await api.http.post("/devices", json=mine, headers=api.auth(user)),
            await api.http.get("/devices", headers=api.auth(user)),
            await api.http.get("/devices/pump-7", headers=api.auth(user)),
            await api.http.get("/devices/nowhere", headers=api.auth(user)),
        )
        decided[user] = tuple(c.status_code for c in calls)
        for call in calls:
            if call.status_code >= 400:
                assert call.headers["content-type"] == PROBLEM_JSON
    assert decided == EXPECTED
    anonymous = await api.http.get("/devices")
    assert anonymous.status_code == 401


async def test_a_refused_device_lists_every_problem_and_registers_nothing(api: Api) -> None:
    bad = copy.deepcopy(MODBUS)
    bad["endpoint"] = "tcp://192.0.2.1:502"
    bad["unit_id"] = None
    bad["points"][1]["type"] = "uint16"
    bad["points"].append({"name": "speed", "node_id": "ns=1;s=Speed"})
    bad["thresholds"] = {"pressure": {"high": 1}}
    refused = await api.http.post("/devices", json=bad, headers=api.auth("owner"))
    assert refused.status_code == 422
    assert refused.headers["content-type"] == PROBLEM_JSON
    errors = refused.json()["errors"]
    assert sorted(e["pointer"] for e in errors) == [
        "/endpoint",
        "/points/1/type",
        "/points/2",
        "/thresholds/pressure",
        "/unit_id",
    ]
    endpoint = next(e for e in errors if e["pointer"] == "/endpoint")
    assert "site 'local'" in endpoint["detail"]
    assert "127.0.0.1, localhost" in endpoint["detail"]
    listed = await api.http.get("/devices", headers=api.auth("root"))
    assert listed.json() == {"items": [], "next_cursor": None}


async def test_registering_again_makes_a_version_only_when_the_device_changed(api: Api) -> None:
    owner = api.auth("owner")
    first = await api.http.post("/devices", json=MODBUS, headers=owner)
    same = await api.http.post(
        "/devices",
        content=yaml.safe_dump(MODBUS),
        headers={**owner, "Content-Type": "application/yaml"},
    )
    changed = await api.http.post("/devices", json={**MODBUS, "model": "PLC 300"}, headers=owner)
    assert [(r.status_code, r.json()["version"]) for r in (first, same, changed)] == [
        (201, 1),
        (200, 1),
        (201, 2),
    ]
    assert changed.json()["registered_by"] == "owner"
    read = await api.http.get("/devices/pump-7", headers=api.auth("dana"))
    assert (read.json()["version"], read.json()["model"]) == (2, "PLC 300")
    assert read.json()["points"][0] == {
        "name": "temperature",
        "register": "holding",
        "address": 0,
        "type": "uint16",
        "byte_order": "big",
        "word_order": "big",
        "scale": 0.1,
        "offset": 0.0,
        "unit": "",
    }


async def test_the_security_files_are_shown_to_admins_only(api: Api) -> None:
    posted = await api.http.post("/devices", json=OPCUA, headers=api.auth("owner"))
    assert posted.status_code == 201, posted.text
    assert posted.json()["security"] == {"mode": "Sign", "policy": "Basic256Sha256"}
    for user in ("dana", "audrey"):
        read = await api.http.get("/devices/oven-2", headers=api.auth(user))
        assert read.json()["security"] == {"mode": "Sign", "policy": "Basic256Sha256"}
        listed = await api.http.get("/devices", headers=api.auth(user))
        assert "client.key" not in listed.text
    admin = await api.http.get("/devices/oven-2", headers=api.auth("root"))
    assert admin.json()["security"] == {**OPCUA["security"], "server_certificate": None}


async def test_devices_are_listed_in_pages_by_id(api: Api) -> None:
    for device_id in ("c-1", "a-1", "b-1"):
        posted = await api.http.post(
            "/devices", json={**MODBUS, "id": device_id}, headers=api.auth("owner")
        )
        assert posted.status_code == 201
    reader = api.auth("audrey")
    first = (await api.http.get("/devices", params={"limit": 2}, headers=reader)).json()
    assert [d["id"] for d in first["items"]] == ["a-1", "b-1"]
    rest = await api.http.get(
        "/devices", params={"limit": 2, "cursor": first["next_cursor"]}, headers=reader
    )
    assert ([d["id"] for d in rest.json()["items"]], rest.json()["next_cursor"]) == (["c-1"], None)
    elsewhere = await api.http.get("/devices", params={"site": "plant-a"}, headers=reader)
    assert elsewhere.json()["items"] == []
    bad = await api.http.get("/devices", params={"cursor": "x"}, headers=reader)
    assert bad.status_code == 422
    assert [e["pointer"] for e in bad.json()["errors"]] == ["query:/cursor"]
