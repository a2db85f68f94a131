"""Bounds on action outputs and `ticket.set_fields`' fields."""

from __future__ import annotations

from typing import Any

import pytest

from domain.action_values import MAX_OUTPUT_BYTES, checked_fields, output_problems
from domain.problems import Rejected


def pointers(params: dict[str, Any]) -> list[str]:
    """The pointers of the problems checked_fields finds (the test fails if it finds none)."""
    with pytest.raises(Rejected) as raised:
        checked_fields(params)
    return [problem.pointer for problem in raised.value.problems]


def test_fields_come_back_as_given() -> None:
    fields = {"score": 3, "label": "high", "tags": ["a", "b"], "due": None, "ratio": 0.5}
    assert checked_fields({"fields": fields}) == fields


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, ["/fields"]),
        ({"fields": {}}, ["/fields"]),
        ({"fields": [1]}, ["/fields"]),
        ({"fields": {"a": 1}, "extra": 2}, ["/extra"]),
        ({"fields": {"Score": 1, "ok": 1, "2x": 1}}, ["/fields/Score", "/fields/2x"]),
        ({"fields": {"a/b": 1}}, ["/fields/a~1b"]),
        ({"fields": {"a": float("nan")}}, ["/fields/a"]),
        ({"fields": {"a": {"b": "\x00"}}}, ["/fields/a/b"]),
        ({"fields": {"a": 2**70}}, ["/fields/a"]),
        ({"fields": {"a": {1, 2}}}, ["/fields"]),
        ({"fields": {f"f{n}": n for n in range(51)}}, ["/fields"]),
        ({"fields": {"a": "x" * MAX_OUTPUT_BYTES}}, ["/fields"]),
    ],
)
def test_bad_fields_are_rejected_by_pointer(params: dict[str, Any], expected: list[str]) -> None:
    assert pointers(params) == expected


def test_an_output_at_the_bound_passes_and_one_byte_over_does_not() -> None:
    overhead = len('{"a": ""}')
    assert output_problems({"a": "x" * (MAX_OUTPUT_BYTES - overhead)}) == []
    assert output_problems({"a": "x" * (MAX_OUTPUT_BYTES - overhead + 1)}) != []
