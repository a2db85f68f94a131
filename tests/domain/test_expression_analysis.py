"""What the publish checks read from an expression: its free names and how deeply it nests."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.expression_analysis import MAX_COMPREHENSION_NESTING, analyse
from domain.expressions import ExpressionError


@pytest.mark.parametrize(
    ("source", "names"),
    [
        ("intake.a.b == 1", {"intake.a.b"}),
        ("intake['a'].b == 1", {"intake.a.b"}),
        ("intake[r'a']['b'] == 1", {"intake.a.b"}),
        ("intake.m[intake.k].x", {"intake.m.*", "intake.k"}),
        ("has(stages.review.data.ok)", {"stages.review.data.ok"}),
        ("size(intake.items) > 0", {"intake.items"}),
        ("intake.items.size() > 0", {"intake.items"}),
        ("intake.items.exists(i, i.qty > ticket.priority)", {"intake.items", "ticket.priority"}),
        ("intake.items.map(i, i.ok, i.n).all(n, n > x)", {"intake.items", "x"}),
        ("[1, 2].filter(i, i > 1) == [2]", set()),
        ("{'a': intake.a}.a", {"intake.a"}),
        ("true ? fields.x : -fields.y", {"fields.x", "fields.y"}),
        ("signal.id == stages.w.data.id", {"signal.id", "stages.w.data.id"}),
    ],
)
def test_free_names(source: str, names: set[str]) -> None:
    assert {r.dotted for r in analyse(source).references} == names


def test_comprehension_nesting_is_bounded() -> None:
    ok = "intake.a.all(x, x.all(y, y > 0))"
    assert analyse(ok).comprehension_nesting == MAX_COMPREHENSION_NESTING
    with pytest.raises(ExpressionError, match="nest 3 deep"):
        analyse("intake.a.all(x, x.all(y, y.map(z, z).size() > 0))")
    # Siblings do not nest.
    assert analyse("intake.a.all(x, x > 0) && intake.b.all(x, x > 0)").comprehension_nesting == 1


@pytest.mark.parametrize(
    "source",
    [
        "intake.a ==",
        "(" * 40 + "1" + ")" * 40,
        "f(" * 30 + "1" + ")" * 30,
        "1 + " * 600 + "1",
        "[" * 200 + "]" * 200,
    ],
)
def test_invalid_or_too_complex(source: str) -> None:
    with pytest.raises(ExpressionError):
        analyse(source)


CEL_PIECES = st.sampled_from(
    [
        "intake",
        "stages",
        ".",
        "a",
        "[",
        "]",
        "(",
        ")",
        "'x'",
        '"\\u00e9"',
        "r'\\d'",
        "1",
        "2.5",
        "u",
        "b'z'",
        "==",
        "&&",
        "||",
        "!",
        "-",
        "?",
        ":",
        ",",
        "{",
        "}",
        "map",
        "all",
        "has",
        " ",
        "x",
        "in",
        "true",
        "null",
        "'''m'''",
        "\\",
        "\\x4",
        "\\u12",
        "\\101",
    ]
)


@settings(max_examples=2000, deadline=None)
@given(st.lists(CEL_PIECES, max_size=25).map("".join) | st.text(max_size=60))
def test_any_text_is_analysed_or_refused_with_an_expression_error(source: str) -> None:
    try:
        analysis = analyse(source)
    except ExpressionError:
        return
    assert all(r.path for r in analysis.references)
