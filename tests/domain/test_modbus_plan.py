"""Planning Modbus reads: few requests, within the protocol's limits, every point placed once."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.devices import ModbusPoint, RegisterKind, ValueType
from domain.modbus_plan import (
    BIT_KINDS,
    BIT_LIMIT,
    REGISTER_LIMIT,
    ModbusPlan,
    ReadRequest,
    Slot,
    isolate,
    modbus_target,
    plan_reads,
    width,
)


def point(
    name: str, register: RegisterKind, address: int, type_: ValueType = "uint16"
) -> ModbusPoint:
    """A point of the given kind, address and type."""
    return ModbusPoint(name=name, register=register, address=address, type=type_)


@pytest.mark.parametrize(
    ("points", "requests"),
    [
        (
            [point("a", "holding", 0), point("b", "holding", 1), point("c", "holding", 2)],
            [ReadRequest("holding", 0, 3)],
        ),
        (
            [point("a", "holding", 0, "float32"), point("b", "holding", 2, "int32")],
            [ReadRequest("holding", 0, 4)],
        ),
        (
            [point("a", "holding", 10), point("b", "holding", 15)],
            [ReadRequest("holding", 10, 6)],
        ),
        (
            [point("a", "holding", 10), point("b", "holding", 500)],
            [ReadRequest("holding", 10, 1), ReadRequest("holding", 500, 1)],
        ),
        (
            [point("a", "holding", 0), point("b", "input", 0)],
            [ReadRequest("holding", 0, 1), ReadRequest("input", 0, 1)],
        ),
        (
            [point("a", "holding", 0), point("b", "holding", 124, "uint32")],
            [ReadRequest("holding", 0, 1), ReadRequest("holding", 124, 2)],
        ),
        (
            [point("a", "coil", 0, "bool"), point("b", "coil", 1999, "bool")],
            [ReadRequest("coil", 0, 1), ReadRequest("coil", 1999, 1)],
        ),
        (
            [point("b", "discrete", 60, "bool"), point("a", "discrete", 3, "bool")],
            [ReadRequest("discrete", 3, 58)],
        ),
        (
            [point("a", "holding", 7, "int32"), point("b", "holding", 8)],
            [ReadRequest("holding", 7, 2)],
        ),
    ],
    ids=[
        "adjacent",
        "wide-types",
        "near-gap",
        "far-apart",
        "per-kind",
        "register-limit",
        "bit-gap",
        "unsorted-bits",
        "overlap",
    ],
)
def test_requests_for_a_point_map(points: list[ModbusPoint], requests: list[ReadRequest]) -> None:
    assert plan_reads(points).requests == requests


def test_a_slot_says_where_the_registers_sit() -> None:
    plan = plan_reads([point("a", "holding", 12, "float32"), point("b", "holding", 10)])
    assert [(s.request, s.offset, s.width) for s in plan.slots if s] == [(0, 2, 2), (0, 0, 1)]


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (point("a", "coil", 0, "int16"), "config: a coil is one bit"),
        (point("a", "holding", 65535, "float32"), "config: float32 at 65535 runs past"),
    ],
)
def test_a_point_that_cannot_be_read_is_a_problem_not_a_request(
    bad: ModbusPoint, reason: str
) -> None:
    plan = plan_reads([bad])
    assert (plan.requests, plan.slots, plan.problems[0][: len(reason)]) == ([], [None], reason)


@pytest.mark.parametrize(
    ("endpoint", "target"),
    [
        ("127.0.0.1:5020", ("127.0.0.1", 5020)),
        ("plc-7.plant", ("plc-7.plant", 502)),
        ("modbus-tcp://10.0.0.5:1502", ("10.0.0.5", 1502)),
        ("tcp://[::1]:502", ("::1", 502)),
    ],
)
def test_modbus_target(endpoint: str, target: tuple[str, int]) -> None:
    assert modbus_target(endpoint) == target


@pytest.mark.parametrize("endpoint", ["opc.tcp://h:4840", "h:port", "h:99999", "tcp://h/x"])
def test_modbus_target_refuses(endpoint: str) -> None:
    with pytest.raises(ValueError, match=r"endpoint|port"):
        modbus_target(endpoint)


kinds = st.sampled_from(["holding", "input", "coil", "discrete"])
register_types = st.sampled_from(["int16", "uint16", "int32", "uint32", "float32", "bool"])


@st.composite
def point_maps(draw: st.DrawFn) -> list[ModbusPoint]:
    """Up to 200 valid points, clustered or spread over the address space."""
    spread = draw(st.sampled_from([40, 400, 65534]))
    found = []
    for index in range(draw(st.integers(1, 200))):
        kind = draw(kinds)
        type_ = "bool" if kind in BIT_KINDS else draw(register_types)
        found.append(point(f"p{index}", kind, draw(st.integers(0, spread)), type_))
    return found


def covered(plan: ModbusPlan, points: list[ModbusPoint]) -> list[tuple[int, int, int]]:
    """Each point's (kind matches, address from its slot, width) as the plan places it."""
    placed = []
    for p, slot in zip(points, plan.slots, strict=True):
        assert slot is not None
        request = plan.requests[slot.request]
        placed.append((request.kind == p.register, request.address + slot.offset, slot.width))
    return placed


@settings(max_examples=80, deadline=None)
@given(points=point_maps())
def test_every_point_is_placed_once_at_its_address(points: list[ModbusPoint]) -> None:
    plan = plan_reads(points)
    assert covered(plan, points) == [(True, p.address, width(p)) for p in points]


@settings(max_examples=80, deadline=None)
@given(points=point_maps())
def test_no_request_exceeds_the_limits_and_every_slot_fits(points: list[ModbusPoint]) -> None:
    plan = plan_reads(points)
    over = [
        r
        for r in plan.requests
        if r.count > (BIT_LIMIT if r.kind in BIT_KINDS else REGISTER_LIMIT)
        or r.address + r.count > 65536
    ]
    outside = [
        s
        for s in plan.slots
        if s is not None and s.offset + s.width > plan.requests[s.request].count
    ]
    assert (over, outside) == ([], [])


@settings(max_examples=100, deadline=None)
@given(
    kind=st.sampled_from(["holding", "input"]),
    start=st.integers(0, 1000),
    count=st.integers(2, 400),
)
def test_adjacent_registers_take_fewer_requests_than_points(
    kind: RegisterKind, start: int, count: int
) -> None:
    points = [point(f"p{i}", kind, start + i) for i in range(count)]
    assert len(plan_reads(points).requests) == -(-count // REGISTER_LIMIT) < count


def test_adjacent_coils_share_requests_of_up_to_2000_bits() -> None:
    points = [point(f"p{i}", "coil", i, "bool") for i in range(4500)]
    assert [r.count for r in plan_reads(points).requests] == [2000, 2000, 500]


def test_isolate_gives_the_points_of_a_refused_request_their_own() -> None:
    points = [
        point("a", "holding", 10),
        point("b", "holding", 12, "int32"),
        point("c", "holding", 12),
        point("d", "input", 0),
    ]
    plan = isolate(plan_reads(points), points, refused=[0])
    assert (plan.requests, plan.slots) == (
        [
            ReadRequest("holding", 10, 4),
            ReadRequest("input", 0, 1),
            ReadRequest("holding", 10, 1),
            ReadRequest("holding", 12, 2),
            ReadRequest("holding", 12, 1),
        ],
        [Slot(2, 0, 1), Slot(3, 0, 2), Slot(4, 0, 1), Slot(1, 0, 1)],
    )


def test_isolate_leaves_a_request_of_one_point_as_it_is() -> None:
    points = [point("a", "holding", 10, "float32")]
    plan = plan_reads(points)
    assert isolate(plan, points, refused=[0]) == plan


def test_isolate_adds_at_most_its_limit_of_requests() -> None:
    points = [point(f"p{i}", "holding", i) for i in range(10)]
    plan = isolate(plan_reads(points), points, refused=[0], most=3)
    assert (len(plan.requests), [s.request for s in plan.slots if s]) == (
        4,
        [1, 2, 3, 0, 0, 0, 0, 0, 0, 0],
    )
