"""Form schema and form data validation: which inputs are refused, and where the problem is."""

from __future__ import annotations

import urllib.request
from typing import Any

import pytest
from referencing.exceptions import Unresolvable

from forms.validation import (
    DIALECT,
    MAX_SCHEMA_BYTES,
    MAX_SCHEMA_DEPTH,
    data_problems,
    schema_problems,
)


def _form(**extra: Any) -> dict[str, Any]:
    return {"type": "object", **extra}


def _nested(depth: int) -> dict[str, Any]:
    """A valid object schema exactly `depth` dicts deep."""
    node: dict[str, Any] = {"type": "object"}
    for _ in range(depth - 1):
        node = {"type": "object", "not": node}
    return node


SCHEMA_CASES: list[tuple[str, object, str, list[str]]] = [
    ("minimal", _form(), "", []),
    (
        "full 2020-12 form with local references",
        _form(
            **{
                "$schema": DIALECT,
                "$id": "https://forms.example/incident",
                "$defs": {"moment": {"type": "string", "format": "date-time"}, "a/b": {}},
            },
            properties={
                "when": {"$ref": "#/$defs/moment"},
                "child": {"$ref": "#"},
                "odd": {"$ref": "#/$defs/a~1b"},
            },
        ),
        "",
        [],
    ),
    ("dialect with empty fragment", _form(**{"$schema": DIALECT + "#"}), "", []),
    ("a list", [{"type": "object"}], "/intake_form", ["/intake_form"]),
    ("a string", "object", "", [""]),
    ("none", None, "/stages/0/form", ["/stages/0/form"]),
    ("top-level type missing", {"properties": {}}, "/intake_form", ["/intake_form/type"]),
    ("top-level type string", {"type": "string"}, "", ["/type"]),
    (
        "draft-07 dialect",
        _form(**{"$schema": "http://json-schema.org/draft-07/schema#"}),
        "",
        ["/$schema"],
    ),
    ("unknown type name", _form(properties={"a": {"type": "strin"}}), "", ["/properties/a/type"]),
    ("type not a string", _form(properties={"a": {"type": 3}}), "", ["/properties/a/type"]),
    (
        "negative minLength",
        _form(properties={"a": {"minLength": -1}}),
        "",
        ["/properties/a/minLength"],
    ),
    ("broken regex", _form(properties={"a": {"pattern": "("}}), "", ["/properties/a/pattern"]),
    ("required not a list", _form(required="title"), "/intake_form", ["/intake_form/required"]),
    (
        "every meta-schema error is reported",
        _form(required=[1], properties={"a": {"type": 3}, "b": {"maxItems": "x"}}),
        "",
        ["/properties/a/type", "/properties/b/maxItems", "/required/0"],
    ),
    (
        "remote reference",
        _form(properties={"a": {"$ref": "https://evil.example/schema.json"}}),
        "/intake_form",
        ["/intake_form/properties/a/$ref"],
    ),
    ("relative file reference", _form(items={"$ref": "other.json#/x"}), "", ["/items/$ref"]),
    (
        "remote dynamic reference",
        _form(**{"$dynamicRef": "https://evil.example/x"}),
        "",
        ["/$dynamicRef"],
    ),
    ("anchor reference", _form(properties={"a": {"$ref": "#here"}}), "", ["/properties/a/$ref"]),
    (
        "dangling local reference",
        _form(properties={"a": {"$ref": "#/$defs/missing"}}),
        "",
        ["/properties/a/$ref"],
    ),
    (
        "nested $id",
        _form(properties={"a": {"$id": "https://evil.example/a", "type": "string"}}),
        "",
        ["/properties/a/$id"],
    ),
    ("at the depth limit", _nested(MAX_SCHEMA_DEPTH), "", []),
    ("past the depth limit", _nested(MAX_SCHEMA_DEPTH + 1), "/intake_form", ["/intake_form"]),
    ("oversized", _form(description="x" * MAX_SCHEMA_BYTES), "", [""]),
    ("not plain JSON", _form(default={1, 2}), "", [""]),
]


@pytest.mark.parametrize(
    ("schema", "at", "pointers"),
    [case[1:] for case in SCHEMA_CASES],
    ids=[case[0] for case in SCHEMA_CASES],
)
def test_schema_problems_point_at_each_bad_place(
    schema: object, at: str, pointers: list[str]
) -> None:
    problems = schema_problems(schema, at=at)
    assert [p.pointer for p in problems] == pointers
    assert all(p.detail for p in problems)


def test_remote_reference_is_named_in_the_detail() -> None:
    (problem,) = schema_problems(_form(items={"$ref": "https://evil.example/x"}))
    assert "local references" in problem.detail
    assert "https://evil.example/x" in problem.detail


def test_recursive_structure_is_refused_as_too_deep() -> None:
    schema: dict[str, Any] = _form()
    schema["properties"] = {"self": schema}
    (problem,) = schema_problems(schema, at="/intake_form")
    assert problem.pointer == "/intake_form"
    assert f"deeper than {MAX_SCHEMA_DEPTH}" in problem.detail


def test_oversized_schema_is_refused_by_size() -> None:
    (problem,) = schema_problems(_form(description="x" * MAX_SCHEMA_BYTES))
    assert f"larger than {MAX_SCHEMA_BYTES} bytes" in problem.detail


def test_shared_subtrees_are_counted_without_expanding_them() -> None:
    # Nine levels of ten shared references: a YAML alias bomb of a billion values.
    node: Any = "lol"
    for _ in range(9):
        node = [node] * 10
    (problem,) = schema_problems(_form(examples=node))
    assert "larger than" in problem.detail


SHAPE: dict[str, Any] = {
    "type": "object",
    "required": ["title", "severity"],
    "properties": {
        "title": {"type": "string", "minLength": 3},
        "severity": {"enum": ["low", "high"]},
        "contact": {"type": "string", "format": "email"},
        "occurred_at": {"type": "string", "format": "date-time"},
        "link": {"type": "string", "format": "uri"},
        "code": {"type": "string", "pattern": "^[A-Z]{2}-[0-9]+$"},
        "a/b": {"type": "integer"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "address": {
            "type": "object",
            "required": ["city", "postal_code"],
            "additionalProperties": False,
            "properties": {"city": {"type": "string"}, "postal_code": {"type": "string"}},
        },
    },
}
VALID: dict[str, Any] = {
    "title": "Printer on fire",
    "severity": "high",
    "contact": "ana@example.com",
    "occurred_at": "2024-05-01T08:30:00+02:00",
    "link": "https://wiki.example/printers",
    "code": "PR-12",
    "a/b": 1,
    "tags": ["hardware"],
    "address": {"city": "Lyon", "postal_code": "69001"},
}

DATA_CASES: list[tuple[str, object, list[str]]] = [
    ("valid", VALID, []),
    ("only required fields", {"title": "abc", "severity": "low"}, []),
    ("empty", {}, ["/severity", "/title"]),
    ("one required missing", {"severity": "low"}, ["/title"]),
    ("not an object", ["title"], [""]),
    ("wrong type", {**VALID, "title": 5}, ["/title"]),
    ("too short", {**VALID, "title": "ab"}, ["/title"]),
    ("enum", {**VALID, "severity": "urgent"}, ["/severity"]),
    ("email", {**VALID, "contact": "ana.example.com"}, ["/contact"]),
    ("date-time without offset", {**VALID, "occurred_at": "2024-05-01T08:30:00"}, ["/occurred_at"]),
    ("date-time as a date", {**VALID, "occurred_at": "2024-05-01"}, ["/occurred_at"]),
    ("uri without scheme", {**VALID, "link": "wiki.example/printers"}, ["/link"]),
    ("uri with a space", {**VALID, "link": "https://wiki example/"}, ["/link"]),
    ("pattern", {**VALID, "code": "pr-12"}, ["/code"]),
    ("escaped property name", {**VALID, "a/b": "one"}, ["/a~1b"]),
    ("array items", {**VALID, "tags": [1, "ok", True]}, ["/tags/0", "/tags/2"]),
    (
        "nested required and type",
        {**VALID, "address": {"postal_code": 69001}},
        ["/address/city", "/address/postal_code"],
    ),
    (
        "nested unexpected field",
        {**VALID, "address": {**VALID["address"], "floor": 3}},
        ["/address/floor"],
    ),
    ("several at once, sorted", {"title": 1, "contact": "x"}, ["/contact", "/severity", "/title"]),
]


@pytest.mark.parametrize(
    ("data", "pointers"), [case[1:] for case in DATA_CASES], ids=[case[0] for case in DATA_CASES]
)
def test_data_problems_point_at_each_bad_field(data: object, pointers: list[str]) -> None:
    problems = data_problems(SHAPE, data)
    assert [p.pointer for p in problems] == pointers
    assert all(p.detail for p in problems)


@pytest.mark.parametrize(
    ("data", "detail"),
    [
        ({}, "this field is required"),
        ({**VALID, "contact": "nobody"}, "must be a valid email"),
        ({**VALID, "occurred_at": "yesterday"}, "must be a valid date-time"),
        ({**VALID, "link": "nowhere"}, "must be a valid uri"),
        ({**VALID, "address": {**VALID["address"], "floor": 3}}, "this field is not allowed here"),
        ({**VALID, "severity": "urgent"}, 'must be one of "low", "high"'),
    ],
)
def test_data_problem_details_are_readable(data: dict[str, Any], detail: str) -> None:
    assert detail in [p.detail for p in data_problems(SHAPE, data)]


def test_cached_validators_follow_the_schema_content() -> None:
    schema: dict[str, Any] = {"type": "object", "required": ["a"]}
    assert [p.pointer for p in data_problems(schema, {})] == ["/a"]
    schema["required"] = ["b"]
    assert [p.pointer for p in data_problems(schema, {})] == ["/b"]


def test_data_validation_never_fetches_a_remote_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    fetched: list[object] = []
    monkeypatch.setattr(urllib.request, "urlopen", lambda *args, **kwargs: fetched.append(args))
    schema = _form(properties={"a": {"$ref": "https://evil.example/schema.json"}})
    with pytest.raises(Unresolvable):
        data_problems(schema, {"a": 1})
    assert fetched == []
