"""Checking a device document: every problem at once, each located by a JSON pointer.

The shape comes from the models of domain.devices, checked field by field so that one bad
field does not hide the others; then the rules that tie fields together: what each protocol
needs, which points fit which registers, thresholds on known points, and hosts on the site's
allow-list.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import SplitResult, urlsplit

from pydantic import TypeAdapter, ValidationError

from domain.devices import MAX_POINTS, Device, ModbusPoint, OpcuaPoint, OpcuaSecurity, Threshold
from domain.problems import Problem, pointer

MODBUS = "modbus-tcp"
OPCUA = "opcua"
SCHEMES = {MODBUS: "tcp", OPCUA: "opc.tcp"}
ENDPOINT_FORMS = {MODBUS: "tcp://host:port", OPCUA: "opc.tcp://host:port[/path]"}
# 32-bit values span two consecutive registers.
WIDE_TYPES = frozenset({"int32", "uint32", "float32"})
WORD_REGISTERS = frozenset({"holding", "input"})
BIT_REGISTERS = frozenset({"coil", "discrete"})
LAST_WIDE_ADDRESS = 65534
# What tells the two kinds of point apart in a document.
POINT_KEYS = {MODBUS: "register", OPCUA: "node_id"}
KIND_NAMES = {MODBUS: "a Modbus point", OPCUA: "an OPC UA point"}
KIND_PLURALS = {MODBUS: "Modbus points", OPCUA: "OPC UA points"}

# Every field but `points` has one adapter; points are checked one by one against the kind
# their device's protocol reads, so that a stray point is named instead of the whole list.
_FIELDS: dict[str, TypeAdapter[Any]] = {
    name: TypeAdapter(info.rebuild_annotation())
    for name, info in Device.model_fields.items()
    if name != "points"
}
_POINTS: dict[str, type[ModbusPoint] | type[OpcuaPoint]] = {MODBUS: ModbusPoint, OPCUA: OpcuaPoint}


def _located(exc: ValidationError, *at: str | int) -> list[Problem]:
    return [Problem(pointer=pointer(*at, *e["loc"]), detail=e["msg"]) for e in exc.errors()]


def device_problems(
    document: object, *, allowed_hosts: Mapping[str, Sequence[str]]
) -> list[Problem]:
    """Every problem of a device document; none means it is a valid `Device`.

    `allowed_hosts` maps each site to the endpoint hosts its devices may have.
    """
    if not isinstance(document, Mapping):
        return [Problem(pointer="", detail="a device is an object of its fields")]
    problems: list[Problem] = []
    values: dict[str, Any] = {}
    for key in document:
        if key not in Device.model_fields:
            problems.append(
                Problem(pointer=pointer(str(key)), detail="Extra inputs are not permitted")
            )
    for name, adapter in _FIELDS.items():
        if name not in document:
            if Device.model_fields[name].is_required():
                problems.append(Problem(pointer=pointer(name), detail="Field required"))
            else:
                values[name] = Device.model_fields[name].get_default(call_default_factory=True)
            continue
        try:
            values[name] = adapter.validate_python(document[name])
        except ValidationError as exc:
            problems += _located(exc, name)
    protocol = values.get("protocol")
    points, names = _points(document.get("points"), protocol, "points" in document, problems)
    if protocol is not None:
        problems += _protocol_problems(protocol, values)
        if "endpoint" in values and "site" in values:
            problems += _endpoint_problems(
                protocol, values["endpoint"], values["site"], allowed_hosts
            )
    problems += _point_problems(points)
    if "thresholds" in values:
        problems += _threshold_problems(values["thresholds"], names)
    return problems


def _kind_of(item: object, protocol: str | None) -> str:
    if protocol in _POINTS:
        return protocol
    # Without a valid protocol, a point is checked as the kind it looks like.
    return OPCUA if isinstance(item, Mapping) and POINT_KEYS[OPCUA] in item else MODBUS


def _points(
    raw: object, protocol: str | None, given: bool, problems: list[Problem]
) -> tuple[list[tuple[int, ModbusPoint | OpcuaPoint]], set[str]]:
    """The points that are valid, by index, and every name the document gives a point."""
    if not given:
        problems.append(Problem(pointer="/points", detail="Field required"))
        return [], set()
    if not isinstance(raw, list):
        problems.append(Problem(pointer="/points", detail="Input should be a valid list"))
        return [], set()
    if not raw:
        problems.append(Problem(pointer="/points", detail="a device has at least one point"))
    if len(raw) > MAX_POINTS:
        problems.append(Problem(pointer="/points", detail=f"at most {MAX_POINTS} points"))
    parsed: list[tuple[int, ModbusPoint | OpcuaPoint]] = []
    names: set[str] = set()
    for i, item in enumerate(raw):
        if isinstance(item, Mapping) and isinstance(item.get("name"), str):
            names.add(item["name"])
        kind = _kind_of(item, protocol)
        other = OPCUA if kind == MODBUS else MODBUS
        if isinstance(item, Mapping) and POINT_KEYS[other] in item:
            problems.append(
                Problem(
                    pointer=pointer("points", i),
                    detail=f"{KIND_NAMES[other]} (it has {POINT_KEYS[other]}), but protocol"
                    f" {kind} reads {KIND_PLURALS[kind]} only",
                )
            )
            continue
        try:
            parsed.append((i, _POINTS[kind].model_validate(item)))
        except ValidationError as exc:
            problems += _located(exc, "points", i)
    return parsed, names


def _protocol_problems(protocol: str, values: Mapping[str, Any]) -> list[Problem]:
    problems = []
    if protocol == MODBUS and "unit_id" in values and values["unit_id"] is None:
        problems.append(
            Problem(pointer="/unit_id", detail="a modbus-tcp device needs a unit_id (0 to 247)")
        )
    if protocol == OPCUA and values.get("unit_id") is not None:
        problems.append(
            Problem(pointer="/unit_id", detail="unit_id is for modbus-tcp devices only")
        )
    security: OpcuaSecurity | None = values.get("security")
    if protocol != OPCUA and security is not None:
        problems.append(Problem(pointer="/security", detail="security is for opcua devices only"))
    return problems


def _split(endpoint: str) -> SplitResult | None:
    try:
        parts = urlsplit(endpoint)
        parts.port  # noqa: B018 (a port out of range or not a number raises here)
    except ValueError:
        return None
    return parts


def _endpoint_problems(
    protocol: str, endpoint: str, site: str, allowed_hosts: Mapping[str, Sequence[str]]
) -> list[Problem]:
    form = ENDPOINT_FORMS[protocol]
    parts = _split(endpoint)
    if (
        parts is None
        or parts.scheme != SCHEMES[protocol]
        or not parts.hostname
        or parts.port is None
        or parts.port == 0
        or parts.username is not None
        or parts.query
        or parts.fragment
        or (protocol == MODBUS and parts.path not in ("", "/"))
    ):
        return [
            Problem(
                pointer="/endpoint", detail=f"a {protocol} endpoint is {form}, not {endpoint!r}"
            )
        ]
    allowed = list(allowed_hosts.get(site, ()))
    if parts.hostname.rstrip(".") in (h.lower().rstrip(".") for h in allowed):
        return []
    listed = ", ".join(allowed) if allowed else "none"
    return [
        Problem(
            pointer="/endpoint",
            detail=f"host {parts.hostname!r} is not allowed for site {site!r}"
            f" (allowed hosts: {listed})",
        )
    ]


def _point_problems(points: Sequence[tuple[int, ModbusPoint | OpcuaPoint]]) -> list[Problem]:
    problems = []
    first: dict[str, int] = {}
    for i, point in points:
        if point.name in first:
            problems.append(
                Problem(
                    pointer=pointer("points", i, "name"),
                    detail=f"point name {point.name!r} is taken by /points/{first[point.name]}",
                )
            )
        first.setdefault(point.name, i)
        if isinstance(point, ModbusPoint):
            problems += _register_problems(i, point)
    return problems


def _register_problems(i: int, point: ModbusPoint) -> list[Problem]:
    if point.register in BIT_REGISTERS:
        if point.type != "bool":
            return [
                Problem(
                    pointer=pointer("points", i, "type"),
                    detail=f"a {point.register} point is bool, not {point.type}",
                )
            ]
        return []
    if point.type == "bool":
        return [
            Problem(
                pointer=pointer("points", i, "type"),
                detail="bool is for coil and discrete points; a register holds a number",
            )
        ]
    if point.type in WIDE_TYPES and point.address > LAST_WIDE_ADDRESS:
        return [
            Problem(
                pointer=pointer("points", i, "address"),
                detail=f"a {point.type} takes two registers: its address is at most"
                f" {LAST_WIDE_ADDRESS}",
            )
        ]
    return []


def _threshold_problems(thresholds: Mapping[str, Threshold], names: set[str]) -> list[Problem]:
    problems = []
    for name, limits in thresholds.items():
        if name not in names:
            problems.append(
                Problem(pointer=pointer("thresholds", name), detail=f"no point named {name!r}")
            )
        if limits.high is None and limits.low is None:
            problems.append(
                Problem(
                    pointer=pointer("thresholds", name), detail="a threshold sets high, low or both"
                )
            )
        elif limits.high is not None and limits.low is not None and limits.low >= limits.high:
            problems.append(
                Problem(
                    pointer=pointer("thresholds", name, "low"),
                    detail=f"low ({limits.low:g}) must be below high ({limits.high:g})",
                )
            )
    return problems
