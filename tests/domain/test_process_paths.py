"""Edges of every kind, which of them a running ticket took, and how gateways choose."""

from __future__ import annotations

import pytest

from domain.definitions import Gateway
from domain.process_paths import Edge, choose, downstream, edge_state, edges, ends, incoming
from tests.domain.processes import REPAIR, exclusive, inclusive


def test_edges_come_from_depends_on_gateways_and_wait_timeouts() -> None:
    found = set(edges(REPAIR))
    assert Edge("assess", "safety", "branch") in found
    assert Edge("assess", "fix", "default") in found
    assert Edge("safety", "verify", "depends") in found
    assert Edge("part", "chase", "timeout") in found
    assert incoming(REPAIR)["assess"] == []
    assert {e.source for e in incoming(REPAIR)["verify"]} == {"safety", "fix"}


def test_downstream_follows_every_kind_of_edge_in_definition_order() -> None:
    assert downstream(REPAIR, ["assess"]) == [s.key for s in REPAIR.stages]
    assert downstream(REPAIR, ["part"]) == ["part", "chase", "install", "cool", "handover"]
    assert ends(REPAIR) == ["chase", "handover"]


DEPENDS = Edge("a", "b", "depends")
BRANCH = Edge("a", "b", "branch")
TIMEOUT = Edge("a", "b", "timeout")


@pytest.mark.parametrize(
    ("edge", "status", "timed_out", "chosen", "expected"),
    [
        (DEPENDS, "running", False, None, "pending"),
        (DEPENDS, "open", False, None, "pending"),
        (DEPENDS, "done", False, None, "taken"),
        (DEPENDS, "skipped", False, None, "dead"),
        (DEPENDS, "done", True, None, "dead"),  # a wait that timed out takes only its timeout
        (BRANCH, "done", False, None, "pending"),  # the gateway has not decided yet
        (BRANCH, "done", False, ["b"], "taken"),
        (BRANCH, "done", False, ["c"], "dead"),
        (BRANCH, "done", False, [], "dead"),
        (BRANCH, "skipped", False, None, "dead"),
        (TIMEOUT, "done", True, None, "taken"),
        (TIMEOUT, "done", False, None, "dead"),
        (TIMEOUT, "running", False, None, "pending"),
    ],
)
def test_edge_state(
    edge: Edge, status: str, timed_out: bool, chosen: list[str] | None, expected: str
) -> None:
    assert edge_state(edge, status=status, timed_out=timed_out, chosen=chosen) == expected


CONTEXT = {"intake": {"n": 5}}


def test_an_exclusive_gateway_takes_the_first_branch_that_holds_else_its_default() -> None:
    gateway = Gateway.model_validate(
        exclusive(("a", "intake.n > 1"), ("b", "intake.n > 2"), default="c")
    )
    assert choose(gateway, CONTEXT).taken == ["a"]
    otherwise = choose(gateway, {"intake": {"n": 0}})
    assert (otherwise.taken, otherwise.default) == (["c"], True)


def test_an_inclusive_gateway_takes_every_branch_that_holds() -> None:
    gateway = Gateway.model_validate(
        inclusive(("a", "intake.n > 1"), ("b", "intake.n > 9"), ("c", "intake.n > 2"))
    )
    assert choose(gateway, CONTEXT).taken == ["a", "c"]
    nothing = choose(gateway, {"intake": {"n": 0}})
    assert (nothing.taken, nothing.default) == ([], True)


@pytest.mark.parametrize("kind", [exclusive, inclusive])
def test_a_condition_that_cannot_be_evaluated_takes_the_default_with_the_error(
    kind: object,
) -> None:
    gateway = Gateway.model_validate(
        kind(("a", "intake.missing > 1"), ("b", "true"), default="c")  # type: ignore[operator]
    )
    choice = choose(gateway, CONTEXT)
    assert (choice.taken, choice.default) == (["c"], True)
    assert choice.error is not None
    assert "missing" in choice.error


def test_a_condition_that_is_not_a_boolean_is_an_error_too() -> None:
    gateway = Gateway.model_validate(exclusive(("a", "intake.n"), default="c"))
    assert choose(gateway, CONTEXT).error is not None
