"""Form schemas at publish time: UI annotations, unsupported keywords and risky patterns."""

from __future__ import annotations

from typing import Any

import pytest

from forms.patterns import MAX_PATTERN_LENGTH, pattern_problem
from forms.validation import schema_problems


def _form(**extra: Any) -> dict[str, Any]:
    return {"type": "object", **extra}


GOOD = _form(
    **{"x-language": "zh", "x-order": ["phone", "note"]},
    required=["phone"],
    properties={
        "phone": {
            "type": "string",
            "pattern": r"^(?:1[3-9]\d{9}|\+[1-9]\d{1,14})$",
            "x-widget": "phone",
            "x-sensitivity": "confidential",
            "x-maskable": True,
            "x-placeholder": "13800138000",
            "x-help": "mainland mobile or E.164",
        },
        "note": {"type": "string", "x-widget": "textarea", "x-review": True},
        "kind": {"enum": ["a", "b"], "x-widget": "select"},
        "tags": {"type": "array", "items": {"enum": ["x"]}, "x-widget": "select"},
    },
    **{"if": {"properties": {"kind": {"const": "a"}}}, "then": {"required": ["note"]}},
)

CASES: list[tuple[str, dict[str, Any], list[str]]] = [
    ("every annotation used well", GOOD, []),
    ("unknown widget", _form(properties={"a": {"x-widget": "slider"}}), ["/properties/a/x-widget"]),
    (
        "select without choices",
        _form(properties={"a": {"x-widget": "select"}}),
        ["/properties/a/x-widget"],
    ),
    (
        "unknown sensitivity",
        _form(properties={"a": {"x-sensitivity": "secret"}}),
        ["/properties/a/x-sensitivity"],
    ),
    (
        "maskable not a boolean",
        _form(properties={"a": {"x-maskable": "yes"}}),
        ["/properties/a/x-maskable"],
    ),
    ("review not a boolean", _form(properties={"a": {"x-review": 1}}), ["/properties/a/x-review"]),
    ("help not a string", _form(properties={"a": {"x-help": ["x"]}}), ["/properties/a/x-help"]),
    (
        "placeholder too long",
        _form(properties={"a": {"x-placeholder": "x" * 1001}}),
        ["/properties/a/x-placeholder"],
    ),
    (
        "order names a missing property",
        _form(properties={"a": {}}, **{"x-order": ["a", "b"]}),
        ["/x-order/1"],
    ),
    (
        "order lists a property twice",
        _form(properties={"a": {}}, **{"x-order": ["a", "a"]}),
        ["/x-order/1"],
    ),
    ("order not a list", _form(**{"x-order": "a"}), ["/x-order"]),
    ("unknown language", _form(**{"x-language": "fr"}), ["/x-language"]),
    (
        "language below the top",
        _form(properties={"a": {"x-language": "zh"}}),
        ["/properties/a/x-language"],
    ),
    (
        "typo in a keyword",
        _form(properties={"a": {"type": "string", "maxLenght": 3}}),
        ["/properties/a/maxLenght"],
    ),
    ("unknown x- keyword", _form(**{"x-colour": "red"}), ["/x-colour"]),
    ("draft-07 definitions", _form(definitions={"a": {}}), ["/definitions"]),
    ("unknown format", _form(properties={"a": {"format": "emial"}}), ["/properties/a/format"]),
    ("nested quantifier (linear on RE2)", _form(properties={"a": {"pattern": "^(a+)+$"}}), []),
    ("backreference", _form(properties={"a": {"pattern": r"(\w)\1"}}), ["/properties/a/pattern"]),
    (
        "lookahead in a pattern property",
        _form(patternProperties={"^(?!x)": {}}),
        ["/patternProperties/^(?!x)"],
    ),
    (
        "unevaluatedProperties beside patternProperties",
        _form(patternProperties={"^x": {}}, properties={"b": {"unevaluatedProperties": False}}),
        ["/properties/b/unevaluatedProperties"],
    ),
    (
        "condition on a missing field",
        _form(properties={}, **{"if": {"properties": {"kind": {"const": 1}}}, "then": {}}),
        ["/if/properties/kind"],
    ),
    (
        "every problem is listed, deep ones too",
        _form(
            properties={
                "a": {"x-widget": "dial", "colour": 1},
                "b": {"type": "array", "items": {"pattern": "(?<=a)", "x-sensitivity": "top"}},
            },
            **{"x-order": ["z"]},
        ),
        [
            "/properties/a/colour",
            "/properties/a/x-widget",
            "/properties/b/items/pattern",
            "/properties/b/items/x-sensitivity",
            "/x-order/0",
        ],
    ),
]


@pytest.mark.parametrize(("schema", "pointers"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_annotations_and_keywords_are_checked(schema: dict[str, Any], pointers: list[str]) -> None:
    problems = schema_problems(schema)
    assert [p.pointer for p in problems] == pointers
    assert all(p.detail for p in problems)


def test_a_broken_regex_is_reported_once() -> None:
    problems = schema_problems(_form(properties={"a": {"pattern": "("}}))
    assert [p.pointer for p in problems] == ["/properties/a/pattern"]


@pytest.mark.parametrize(
    "pattern",
    [r"^[A-Z]{2,4}-[0-9]{4,8}$", r"(\d{1,3}\.){3}\d{1,3}", r"(a|b)*c", r"^PO-[0-9]{6,10}$"],
)
def test_ordinary_patterns_pass(pattern: str) -> None:
    assert pattern_problem(pattern) is None


@pytest.mark.parametrize(
    "pattern", [r"^(a+)+$", r"^([a-z]+\.)+[a-z]+$", r"(.*a){20}", r"(?:a*)*", r"^(a|a)*$"]
)
def test_backtracking_shapes_are_fine_on_a_linear_engine(pattern: str) -> None:
    assert pattern_problem(pattern) is None


@pytest.mark.parametrize("pattern", [r"(?=(a+)+)b", r"(a)\1", r"(?<!x)a", r"a(?!b)", r"\Z"])
def test_what_re2_cannot_compile_is_refused(pattern: str) -> None:
    assert "RE2" in (pattern_problem(pattern) or "")


def test_overlong_pattern_is_refused() -> None:
    assert "longer than" in (pattern_problem("a" * (MAX_PATTERN_LENGTH + 1)) or "")


def test_a_forms_examples_must_satisfy_it() -> None:
    form = _form(
        required=["a"],
        properties={"a": {"type": "string", "format": "email"}},
        examples=[{"a": "ana@example.com"}, {"a": "nobody"}, {}],
    )
    problems = schema_problems(form, at="/intake_form")
    assert [p.pointer for p in problems] == [
        "/intake_form/examples/1/a",
        "/intake_form/examples/2/a",
    ]
