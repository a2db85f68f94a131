"""The work an expression may do on a ticket's data is bounded before it runs.

Each slow shape below passes every publish check and, unbounded, takes seconds in the `cel`
evaluator on data a form accepts (measured in `bench/gateways.py`); bounded, it is refused at
once, and a gateway takes its default with the reason.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.definitions import Gateway
from domain.expression_analysis import analyse
from domain.expression_cost import STEP_BUDGET, Sizes, bound
from domain.expressions import ExpressionError, evaluate, holds, prepare
from domain.process_paths import choose
from tests.domain.processes import exclusive, inclusive

LONG_TEXT = "x" * 100_000
NUMBERS = list(range(3000))

SLOW_SHAPES = [
    pytest.param(
        "intake.l.exists(x, intake.l.exists(y, x == y + 1))", {"l": NUMBERS}, id="nested-exists"
    ),
    pytest.param(
        "intake.l.map(x, intake.s + 'a').size() > 0",
        {"l": NUMBERS[:1000], "s": LONG_TEXT},
        id="map-copying-a-long-text",
    ),
    pytest.param(
        " + ".join(["intake.s"] * 150) + " == ''", {"s": LONG_TEXT}, id="concatenation-chain"
    ),
    pytest.param(
        "intake.l.map(x, intake.l.map(y, x + y)).size() > 0",
        {"l": NUMBERS[:300]},
        id="nested-map",
    ),
    pytest.param(
        "intake.l.map(x, intake.l + intake.l).size() > 0", {"l": NUMBERS[:300]}, id="list-copies"
    ),
    pytest.param("intake.l.filter(x, x > 1).size() > 0", {"l": NUMBERS}, id="long-filter"),
    pytest.param(
        "intake.rows.exists(r, r.cells.exists(c, c == 'y'))",
        {"rows": [{"cells": ["x"] * 1000}] * 1000},
        id="nested-data",
    ),
]


@pytest.mark.parametrize(("source", "intake"), SLOW_SHAPES)
def test_a_slow_shape_passes_publish_checks_and_is_refused_before_it_runs(
    source: str, intake: dict[str, Any]
) -> None:
    analyse(source)  # publishable
    with pytest.raises(ExpressionError, match=r"could take .* steps on this data"):
        evaluate(source, {"intake": intake})


@pytest.mark.parametrize(
    ("source", "intake", "expected"),
    [
        ("intake.severity == 'high' && intake.count > 3", {"severity": "high", "count": 5}, True),
        ("intake.rows.exists(r, r.qty > 10)", {"rows": [{"qty": i} for i in range(500)]}, True),
        ("intake.l.exists(x, intake.l.exists(y, x == y + 1))", {"l": NUMBERS[:100]}, True),
        ("intake.l.map(x, x * 2)[99] == 198", {"l": NUMBERS[:100]}, True),
        ("intake.s.matches('^x+$')", {"s": LONG_TEXT}, True),
        ("size(intake.s + intake.s) == 200000", {"s": LONG_TEXT}, True),
        ("intake.l.filter(x, x % 2 == 0).size() == 250", {"l": NUMBERS[:500]}, True),
        ("'x' in intake.tags", {"tags": ["a"] * 10_000}, False),
    ],
)
def test_shapes_that_real_processes_use_fit_the_budget_and_give_their_value(
    source: str, intake: dict[str, Any], expected: bool
) -> None:
    assert holds(source, {"intake": intake}) is expected


def test_a_path_into_the_data_is_measured_where_it_leads_not_at_its_root() -> None:
    context = {"intake": {"small": [1, 2, 3], "big": NUMBERS}}
    sizes = Sizes(context)
    assert bound("intake.small.exists(x, intake.small.exists(y, x == y))", sizes) < 100
    assert bound("intake['small'].exists(x, x == 1)", sizes) < 50
    # A computed index could reach anything inside its base.
    assert bound("intake[intake.small[0] == 1 ? 'big' : 'small'].exists(x, x == 1)", sizes) > 3000


def test_one_decision_shares_its_budget_across_its_expressions() -> None:
    numbers = list(range(280))
    condition = "intake.l.exists(x, intake.l.exists(y, x == y + 1000))"
    context = prepare({"intake": {"l": numbers}})
    steps = bound(condition, context.sizes)
    assert STEP_BUDGET / 2 < steps <= STEP_BUDGET
    assert holds(condition, context) is False
    with pytest.raises(ExpressionError, match="are left"):
        holds(condition, context)  # the same again no longer fits
    assert holds(condition, {"intake": {"l": numbers}}) is False  # a new decision, a new budget


def test_a_gateway_whose_condition_is_too_costly_takes_its_default_and_says_why() -> None:
    gateway = Gateway.model_validate(
        exclusive(("safety", "intake.l.exists(x, intake.l.exists(y, x == y + 1))"), default="fix")
    )
    choice = choose(gateway, {"intake": {"l": NUMBERS}})
    assert choice.taken == ["fix"]
    assert choice.default is True
    assert choice.error is not None
    assert "steps on this data" in choice.error


def test_an_inclusive_gateway_refuses_when_its_branches_together_exceed_the_budget() -> None:
    numbers = list(range(280))
    costly = "intake.l.exists(x, intake.l.exists(y, x == y + 1000))"
    gateway = Gateway.model_validate(
        inclusive(("a", f"!({costly})"), ("b", f"!({costly})"), default="c")
    )
    choice = choose(gateway, {"intake": {"l": numbers}})
    assert choice.taken == ["c"]
    assert choice.error is not None
    assert "are left" in choice.error


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=300),
    lambda inner: (
        st.lists(inner, max_size=8) | st.dictionaries(st.text(max_size=5), inner, max_size=8)
    ),
    max_leaves=40,
)
EXPRESSIONS = [
    "intake.a == intake.b",
    "intake.l.exists(x, x == intake.a)",
    "intake.l.map(x, [x, intake.a]).size() > 0",
    "intake.l.filter(x, x in intake.l).size() >= 0",
    "string(intake.a) + string(intake.b) != ''",
    "intake.l.exists(x, intake.l.all(y, x == y))",
]


@given(
    source=st.sampled_from(EXPRESSIONS),
    a=JSON,
    b=JSON,
    items=st.lists(JSON, max_size=10),
    extra=JSON,
)
def test_the_bound_never_shrinks_when_the_data_grows(
    source: str, a: Any, b: Any, items: list[Any], extra: Any
) -> None:
    smaller = bound(source, Sizes({"intake": {"a": a, "b": b, "l": items}}))
    larger = bound(source, Sizes({"intake": {"a": [a, extra], "b": b, "l": [*items, extra]}}))
    assert larger >= smaller


def test_data_nested_deeper_than_the_stack_is_refused_not_crashed() -> None:
    deep: Any = 1
    for _ in range(5000):
        deep = [deep]
    with pytest.raises(ExpressionError, match="nested too deeply"):
        evaluate("size(intake.deep) == 1", {"intake": {"deep": deep}})
