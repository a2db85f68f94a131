"""How a device's Modbus points become as few read requests as the protocol allows.

Points are grouped per register kind; points at adjacent or near-adjacent addresses share one
request (reading a few unused registers costs less than another round trip), up to the
protocol's limits: 125 registers per holding/input read, 2000 bits per coil/discrete read.
Each point gets a slot: which request holds it and where its registers sit in the answer.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from domain.devices import ModbusPoint, RegisterKind

REGISTER_LIMIT = 125
BIT_LIMIT = 2000
# Unused addresses a request may span between two points: a register gap costs 2 bytes, a bit
# gap 1/8 byte, against a round trip of tens of bytes and a few milliseconds.
REGISTER_GAP = 8
BIT_GAP = 64
# The most extra requests a refused group may cost: a wrong point map should not spend the
# snapshot's time budget point by point (the rest keep the group's refusal).
ISOLATE_LIMIT = 32
ADDRESS_SPACE = 65536
DEFAULT_PORT = 502
BIT_KINDS: frozenset[RegisterKind] = frozenset({"coil", "discrete"})
WIDE_TYPES = frozenset({"int32", "uint32", "float32"})
# Requests in this order: the kind's function code order (01 coils ... 04 input registers).
KIND_ORDER: tuple[RegisterKind, ...] = ("coil", "discrete", "holding", "input")


@dataclass(frozen=True)
class ReadRequest:
    """One Modbus read: `count` registers (or bits) of one kind from `address` on."""

    kind: RegisterKind
    address: int
    count: int


@dataclass(frozen=True)
class Slot:
    """Where one point's registers (or its bit) sit: request index, offset in its answer, width."""

    request: int
    offset: int
    width: int


@dataclass(frozen=True)
class ModbusPlan:
    """The requests, and per point (in the device's order) its slot or why it cannot be read."""

    requests: list[ReadRequest]
    slots: list[Slot | None]
    problems: dict[int, str]


def limit(kind: RegisterKind) -> int:
    """The most registers (or bits) one read of this kind may ask for."""
    return BIT_LIMIT if kind in BIT_KINDS else REGISTER_LIMIT


def width(point: ModbusPoint) -> int:
    """How many registers the point's value takes (a bit counts as one)."""
    return 2 if point.register not in BIT_KINDS and point.type in WIDE_TYPES else 1


def problem(point: ModbusPoint) -> str | None:
    """Why the point cannot be read as configured, or None."""
    if point.register in BIT_KINDS and point.type != "bool":
        return f"config: a {point.register} is one bit, so its type must be bool, not {point.type}"
    if point.address + width(point) > ADDRESS_SPACE:
        return f"config: {point.type} at {point.address} runs past the last address 65535"
    return None


def plan_reads(
    points: Sequence[ModbusPoint], *, register_gap: int = REGISTER_GAP, bit_gap: int = BIT_GAP
) -> ModbusPlan:
    """Group the points into the fewest requests per kind within the limits and the gap."""
    problems: dict[int, str] = {}
    by_kind: dict[RegisterKind, list[int]] = {kind: [] for kind in KIND_ORDER}
    for index, point in enumerate(points):
        found = problem(point)
        if found is None:
            by_kind[point.register].append(index)
        else:
            problems[index] = found
    requests: list[ReadRequest] = []
    slots: list[Slot | None] = [None] * len(points)
    for kind in KIND_ORDER:
        gap = bit_gap if kind in BIT_KINDS else register_gap
        ordered = sorted(by_kind[kind], key=lambda i: (points[i].address, width(points[i])))
        members: list[int] = []
        start = end = 0
        for index in ordered:
            address, wide = points[index].address, width(points[index])
            if members and address - end <= gap and max(end, address + wide) - start <= limit(kind):
                end = max(end, address + wide)
            else:
                _close(requests, slots, points, kind, start, end, members)
                members, start, end = [], address, address + wide
            members.append(index)
        _close(requests, slots, points, kind, start, end, members)
    return ModbusPlan(requests=requests, slots=slots, problems=problems)


def _close(
    requests: list[ReadRequest],
    slots: list[Slot | None],
    points: Sequence[ModbusPoint],
    kind: RegisterKind,
    start: int,
    end: int,
    members: list[int],
) -> None:
    """Add the request for `members` (if any) and point their slots at it."""
    if not members:
        return
    requests.append(ReadRequest(kind=kind, address=start, count=end - start))
    for index in members:
        point = points[index]
        slots[index] = Slot(len(requests) - 1, point.address - start, width(point))


def isolate(
    plan: ModbusPlan,
    points: Sequence[ModbusPoint],
    refused: Collection[int],
    *,
    most: int = ISOLATE_LIMIT,
) -> ModbusPlan:
    """The plan with the points of the `refused` requests given one request each, appended.

    A device refuses a whole request (illegal address) when one address in it is missing; read
    alone, the points it does have still answer. Points at the same place share a request; at
    most `most` requests are added.
    """
    requests = list(plan.requests)
    slots = list(plan.slots)
    own: dict[ReadRequest, int] = {}
    for index, slot in enumerate(plan.slots):
        if slot is None or slot.request not in refused:
            continue
        point = points[index]
        alone = ReadRequest(kind=point.register, address=point.address, count=slot.width)
        if alone == plan.requests[slot.request]:
            continue
        if alone not in own:
            if len(own) == most:
                continue
            own[alone] = len(requests)
            requests.append(alone)
        slots[index] = Slot(own[alone], 0, slot.width)
    return ModbusPlan(requests=requests, slots=slots, problems=plan.problems)


def modbus_target(endpoint: str) -> tuple[str, int]:
    """Host and port of a Modbus TCP endpoint: `host[:port]` or `modbus-tcp://host[:port]`."""
    text = endpoint if "://" in endpoint else f"modbus-tcp://{endpoint}"
    parts = urlsplit(text)
    if parts.scheme not in {"modbus-tcp", "tcp"} or not parts.hostname or parts.path.strip("/"):
        raise ValueError(f"not a Modbus TCP endpoint (host:port): {endpoint!r}")
    try:
        port = parts.port or DEFAULT_PORT
    except ValueError:
        raise ValueError(f"not a valid port in {endpoint!r}") from None
    return parts.hostname, port
