"""Device documents: each rule refuses its own kind of mistake, all of them at once."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from domain.device_checks import device_problems
from domain.devices import MAX_POINTS, Device

HOSTS = {"local": ["127.0.0.1", "localhost"], "plant-a": ["10.0.0.5", "plc-7.plant-a.example"]}

MODBUS: dict[str, Any] = {
    "id": "pump-7",
    "site": "plant-a",
    "model": "Acme PLC 200",
    "protocol": "modbus-tcp",
    "endpoint": "tcp://10.0.0.5:502",
    "unit_id": 1,
    "points": [
        {"name": "temperature", "register": "holding", "address": 0, "type": "int16", "scale": 0.1},
        {"name": "flow", "register": "input", "address": 10, "type": "float32"},
        {"name": "running", "register": "coil", "address": 0, "type": "bool"},
        {"name": "door_open", "register": "discrete", "address": 3, "type": "bool"},
    ],
    "thresholds": {"temperature": {"high": 80, "low": 5}, "flow": {"low": 1.5}},
}
OPCUA: dict[str, Any] = {
    "id": "oven-2",
    "site": "local",
    "model": "Oven X",
    "protocol": "opcua",
    "endpoint": "opc.tcp://localhost:4840/freeopcua/server/",
    "security": {
        "mode": "SignAndEncrypt",
        "policy": "Basic256Sha256",
        "certificate": "/etc/ticketflow/client.pem",
        "private_key": "/etc/ticketflow/client.key",
    },
    "points": [{"name": "temperature", "node_id": "ns=2;s=Oven.Temp", "unit": "°C"}],
    "thresholds": {"temperature": {"high": 250}},
}


def _with(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    document = copy.deepcopy(base)
    for key, value in changes.items():
        if value is None:
            document.pop(key, None)
        else:
            document[key] = value
    return document


def _point(base: dict[str, Any], i: int, **changes: Any) -> dict[str, Any]:
    document = copy.deepcopy(base)
    document["points"][i].update(changes)
    return document


def _pointers(document: object) -> list[str]:
    return [p.pointer for p in device_problems(document, allowed_hosts=HOSTS)]


@pytest.mark.parametrize("document", [MODBUS, OPCUA], ids=["modbus", "opcua"])
def test_a_valid_device_has_no_problems_and_parses(document: dict[str, Any]) -> None:
    assert device_problems(document, allowed_hosts=HOSTS) == []
    Device.model_validate(document)


BAD_MODBUS_POINT = {"name": "x", "register": "holding", "address": 1}
# (document, the pointer of its one problem, words its message has)
# fmt: off
ONE_PROBLEM = [
    ("not an object", ["x"], "", "an object"),
    ("unknown field", _with(MODBUS, colour="red"), "/colour", "Extra inputs"),
    ("missing field", _with(MODBUS, model=None), "/model", "Field required"),
    ("bad id", _with(MODBUS, id="no spaces"), "/id", "pattern"),
    ("bad poll", _with(MODBUS, poll_seconds=0), "/poll_seconds", "greater than"),
    ("unknown protocol", _with(MODBUS, protocol="bacnet"), "/protocol", "modbus-tcp"),
    ("modbus without unit", _with(MODBUS, unit_id=None), "/unit_id", "needs a unit_id"),
    ("unit out of range", _with(MODBUS, unit_id=248), "/unit_id", "less than or equal"),
    ("modbus http endpoint", _with(MODBUS, endpoint="http://10.0.0.5:502"), "/endpoint",
     "tcp://host:port"),
    ("modbus without port", _with(MODBUS, endpoint="tcp://10.0.0.5"), "/endpoint", "tcp://"),
    ("modbus with path", _with(MODBUS, endpoint="tcp://10.0.0.5:502/x"), "/endpoint", "tcp://"),
    ("port out of range", _with(MODBUS, endpoint="tcp://10.0.0.5:70000"), "/endpoint", "tcp://"),
    ("modbus with security", _with(MODBUS, security=OPCUA["security"]), "/security",
     "opcua devices only"),
    ("opcua tcp endpoint", _with(OPCUA, endpoint="tcp://localhost:4840"), "/endpoint",
     "opc.tcp://host:port[/path]"),
    ("opcua with unit", _with(OPCUA, unit_id=1), "/unit_id", "modbus-tcp devices only"),
    ("host not allowed", _with(MODBUS, endpoint="tcp://10.0.0.6:502"), "/endpoint",
     "host '10.0.0.6' is not allowed for site 'plant-a' (allowed hosts: 10.0.0.5,"
     " plc-7.plant-a.example)"),
    ("site without hosts", _with(MODBUS, site="plant-b"), "/endpoint",
     "site 'plant-b' (allowed hosts: none)"),
    ("opcua point on modbus", _with(MODBUS, points=[*MODBUS["points"], OPCUA["points"][0]]),
     "/points/4", "an OPC UA point (it has node_id), but protocol modbus-tcp reads"),
    ("modbus point on opcua", _with(OPCUA, points=[*OPCUA["points"], BAD_MODBUS_POINT]),
     "/points/1", "a Modbus point (it has register), but protocol opcua reads"),
    ("no points", _with(MODBUS, points=[], thresholds={}), "/points", "at least one point"),
    ("points not a list", _with(MODBUS, points={"a": 1}, thresholds={}), "/points", "valid list"),
    ("no points field", _with(MODBUS, points=None, thresholds={}), "/points", "Field required"),
    ("too many points", _with(MODBUS, points=[
        {"name": f"p{i}", "register": "holding", "address": i} for i in range(MAX_POINTS + 1)
    ], thresholds={}), "/points", f"at most {MAX_POINTS}"),
    ("bad point field", _point(MODBUS, 0, register="eeprom"), "/points/0/register", "holding"),
    ("point without register", _with(MODBUS, points=[{"name": "temperature", "address": 0}],
     thresholds={}), "/points/0/register", "Field required"),
    ("duplicate name", _point(MODBUS, 2, name="temperature"), "/points/2/name",
     "'temperature' is taken by /points/0"),
    ("duplicate opcua name", _with(OPCUA, points=OPCUA["points"] * 2), "/points/1/name",
     "is taken"),
    ("wide at the last address", _point(MODBUS, 1, address=65535), "/points/1/address",
     "two registers"),
    ("wide on a coil", _point(MODBUS, 2, type="uint32"), "/points/2/type", "coil point is bool"),
    ("number on a discrete", _point(MODBUS, 3, type="int16"), "/points/3/type",
     "discrete point is bool"),
    ("bool on a holding", _point(MODBUS, 0, type="bool"), "/points/0/type",
     "bool is for coil and discrete"),
    ("threshold of no point", _with(MODBUS, thresholds={"pressure": {"high": 3}}),
     "/thresholds/pressure", "no point named 'pressure'"),
    ("low above high", _with(MODBUS, thresholds={"temperature": {"low": 90, "high": 80}}),
     "/thresholds/temperature/low", "low (90) must be below high (80)"),
    ("low equals high", _with(MODBUS, thresholds={"temperature": {"low": 80, "high": 80}}),
     "/thresholds/temperature/low", "below high"),
    ("empty threshold", _with(MODBUS, thresholds={"temperature": {}}), "/thresholds/temperature",
     "high, low or both"),
    ("bad security", _with(OPCUA, security={**OPCUA["security"], "mode": "None"}),
     "/security/mode", "Sign"),
]
# fmt: on


@pytest.mark.parametrize(
    ("document", "at", "words"),
    [pytest.param(d, at, w, id=name) for name, d, at, w in ONE_PROBLEM],
)
def test_each_mistake_is_one_problem_at_its_pointer(document: object, at: str, words: str) -> None:
    problems = device_problems(document, allowed_hosts=HOSTS)
    assert [p.pointer for p in problems] == [at]
    assert words in problems[0].detail


def test_every_problem_of_a_document_is_reported_at_once() -> None:
    document = _with(
        MODBUS,
        id="bad id",
        unit_id=None,
        endpoint="tcp://192.168.1.9:502",
        security=OPCUA["security"],
        points=[
            {"name": "temperature", "register": "holding", "address": 65535, "type": "float32"},
            {"name": "temperature", "register": "coil", "address": 1},
            {"name": "speed", "node_id": "ns=1;s=Speed"},
            {"name": "Bad Name", "register": "input", "address": 2},
        ],
        thresholds={
            "temperature": {"low": 9, "high": 1},
            "speed": {"high": 1},
            "ghost": {"low": 0},
        },
    )
    assert sorted(_pointers(document)) == [
        "/endpoint",
        "/id",
        "/points/0/address",
        "/points/1/name",
        "/points/1/type",
        "/points/2",
        "/points/3/name",
        "/security",
        "/thresholds/ghost",
        "/thresholds/temperature/low",
        "/unit_id",
    ]


def test_without_a_valid_protocol_points_are_checked_as_the_kind_they_look_like() -> None:
    document = _with(
        MODBUS, protocol="bacnet", points=[{"name": "t", "node_id": ""}], thresholds={}
    )
    assert _pointers(document) == ["/protocol", "/points/0/node_id"]


def test_pointers_escape_keys_as_rfc_6901_says() -> None:
    document = _with(MODBUS, thresholds={"a/b~c": {"high": 1}})
    assert _pointers(document) == ["/thresholds/a~1b~0c"]


@pytest.mark.parametrize(
    "endpoint", ["tcp://LOCALHOST:502", "tcp://localhost.:502", "tcp://127.0.0.1:1502/"]
)
def test_allowed_hosts_match_whatever_their_case(endpoint: str) -> None:
    document = _with(MODBUS, site="local", endpoint=endpoint)
    assert _pointers(document) == []
