"""Forms no submission can satisfy are publish problems; undeclared fields are data problems."""

from __future__ import annotations

from typing import Any

import pytest

from forms.validation import data_problems, schema_problems


def _form(field: dict[str, Any], **top: Any) -> dict[str, Any]:
    return {"type": "object", "properties": {"f": field}, **top}


def _found(schema: dict[str, Any]) -> list[tuple[str, str]]:
    return [(p.pointer, p.detail) for p in schema_problems(schema)]


BOUNDS = "{} and {} leave no value that satisfies both"
NEVER = "this choice is never accepted ({})"
BAD_DEFAULT = "the default is not a valid value ({})"

# fmt: off
CONTRADICTIONS = [
    ({"type": "integer", "minimum": 1, "maximum": 0},
     [("/properties/f/minimum", BOUNDS.format("minimum 1", "maximum 0"))]),
    ({"type": "number", "exclusiveMinimum": 3, "exclusiveMaximum": 3},
     [("/properties/f/exclusiveMinimum",
       BOUNDS.format("exclusiveMinimum 3", "exclusiveMaximum 3"))]),
    ({"type": "number", "minimum": 3, "exclusiveMaximum": 3},
     [("/properties/f/minimum", BOUNDS.format("minimum 3", "exclusiveMaximum 3"))]),
    ({"type": "number", "exclusiveMinimum": 2.5, "maximum": 2.5},
     [("/properties/f/exclusiveMinimum", BOUNDS.format("exclusiveMinimum 2.5", "maximum 2.5"))]),
    ({"type": "integer", "minimum": 1.2, "maximum": 1.8},
     [("/properties/f/type", "no integer lies within these bounds")]),
    ({"type": "integer", "exclusiveMinimum": 1, "exclusiveMaximum": 2},
     [("/properties/f/type", "no integer lies within these bounds")]),
    ({"type": "string", "minLength": 5, "maxLength": 2},
     [("/properties/f/minLength", BOUNDS.format("minLength 5", "maxLength 2"))]),
    ({"type": "array", "minItems": 3, "maxItems": 1},
     [("/properties/f/minItems", BOUNDS.format("minItems 3", "maxItems 1"))]),
    ({"type": "object", "minProperties": 2, "maxProperties": 1},
     [("/properties/f/minProperties", BOUNDS.format("minProperties 2", "maxProperties 1"))]),
    ({"type": "array", "contains": {"type": "string"}, "minContains": 2, "maxContains": 1},
     [("/properties/f/minContains", BOUNDS.format("minContains 2", "maxContains 1"))]),
    # Choices and constants the field itself refuses, each named.
    ({"type": "string", "enum": ["ok", 1, "long"], "maxLength": 2},
     [("/properties/f/enum/1", NEVER.format("must be of type string")),
      ("/properties/f/enum/2", NEVER.format("must be at most 2 characters long"))]),
    ({"type": "string", "enum": ["a", "b"], "pattern": "^a$"},
     [("/properties/f/enum/1",
       'this choice is never accepted (does not match the expected format "^a$")')]),
    ({"type": "integer", "const": "x"},
     [("/properties/f/const", "this value is never accepted (must be of type integer)")]),
    # Each refuses the other: every one is named.
    ({"enum": [1, 2], "const": 3},
     [("/properties/f/const", "this value is never accepted (must be one of 1, 2)"),
      ("/properties/f/enum/0", "this choice is never accepted (must be 3)"),
      ("/properties/f/enum/1", "this choice is never accepted (must be 3)")]),
    ({"type": "integer", "minimum": 1, "default": 0},
     [("/properties/f/default", "the default is not a valid value (must be at least 1)")]),
    ({"type": "object", "properties": {"a": {"type": "string"}}, "default": {"a": 1}},
     [("/properties/f/default", BAD_DEFAULT.format("/a: must be of type string"))]),
    ({"type": "object", "properties": {"a": {}}, "required": ["a", "b"]},
     [("/properties/f/required/1", "'b' is required but is not a field of this form")]),
    # A branch's required names the object's fields.
    ({"type": "object", "properties": {"a": {}},
      "if": {"properties": {"a": {"const": 1}}}, "then": {"required": ["zz"]}},
     [("/properties/f/then/required/0", "'zz' is required but is not a field of this form")]),
]
# fmt: on
@pytest.mark.parametrize(("field", "expected"), CONTRADICTIONS)
def test_a_field_no_value_can_satisfy_is_a_publish_problem(
    field: dict[str, Any], expected: list[tuple[str, str]]
) -> None:
    assert _found(_form(field)) == expected


# fmt: off
SATISFIABLE = [
    {"type": "integer", "minimum": 1, "maximum": 1},
    {"type": "number", "exclusiveMinimum": 1, "exclusiveMaximum": 1.5},
    {"type": "integer", "exclusiveMinimum": 1, "exclusiveMaximum": 3},
    {"type": "string", "minLength": 2, "maxLength": 2, "enum": ["ab", "cd"], "default": "ab"},
    {"type": ["string", "null"], "enum": ["a", None]},
    {"type": "object", "properties": {"a": {}}, "additionalProperties": True, "required": ["b"]},
    {"type": "object", "properties": {"a": {}}, "patternProperties": {"^x": {}},
     "required": ["x1"]},
    {"type": "object", "properties": {"a": {}}, "anyOf": [{"required": ["a"]}]},
    {"type": "object", "properties": {"a": {}},
     "allOf": [{"properties": {"b": {}}}], "required": ["a", "b"]},
    {"type": "object", "properties": {"a": {}}, "not": {"required": ["b"]}},
]
# fmt: on


@pytest.mark.parametrize("field", SATISFIABLE)
def test_bounds_and_choices_that_leave_values_are_fine(field: dict[str, Any]) -> None:
    assert _found(_form(field)) == []


def test_every_contradiction_at_every_depth_is_reported_at_once() -> None:
    too_short = {"type": "string", "minLength": 3, "maxLength": 1}
    empty_range = {"type": "number", "minimum": 5, "maximum": 4}
    part = {
        "type": "object",
        "properties": {"qty": {"type": "integer", "minimum": 2, "maximum": 1}},
    }
    schema = {
        "type": "object",
        "required": ["ghost"],
        "properties": {
            "list": {"type": "array", "items": {"$ref": "#/$defs/part"}},
            "pair": {"type": "array", "prefixItems": [too_short]},
            "either": {"anyOf": [empty_range, {"type": "null"}]},
        },
        "$defs": {"part": part},
    }
    assert [p for p, _ in _found(schema)] == [
        "/$defs/part/properties/qty/minimum",
        "/properties/either/anyOf/0/minimum",
        "/properties/pair/prefixItems/0/minLength",
        "/required/0",
    ]


def test_contradictions_speak_the_forms_language() -> None:
    schema = _form({"type": "integer", "minimum": 1, "maximum": 0}, required=["g"])
    schema["x-language"] = "zh"
    assert _found(schema) == [
        ("/properties/f/minimum", "minimum 1 与 maximum 0 之间没有能同时满足的值"),
        ("/required/0", "必填项 'g' 不是此表单的字段"),
    ]
    choice = _form({"type": "string", "enum": ["a", 2]}, **{"x-language": "zh"})
    assert _found(choice) == [("/properties/f/enum/1", "此选项永远不会被接受（类型应为 文本）")]


def test_contradictions_wait_for_a_well_formed_schema() -> None:
    # A malformed bound is the meta-schema's problem alone.
    broken = _form({"type": "integer", "minimum": "one", "maximum": 0})
    assert [p for p, _ in _found(broken)] == ["/properties/f/minimum"]


NESTED = {
    "type": "object",
    "properties": {
        "title": {"type": "string"},
        "device": {"$ref": "#/$defs/device"},
        "parts": {"type": "array", "items": {"type": "object", "properties": {"sku": {}}}},
        "pair": {"type": "array", "prefixItems": [{"type": "object", "properties": {"a": {}}}]},
        "extra": {"type": "object", "additionalProperties": {"type": "string"}},
        "rows": {
            "type": "object",
            "additionalProperties": {"type": "object", "properties": {"n": {}}},
        },
        "free": {"type": "object"},
        "tagged": {"type": "object", "properties": {"a": {}}, "patternProperties": {"^x-": {}}},
    },
    "$defs": {"device": {"type": "object", "properties": {"serial": {"type": "string"}}}},
}


def test_undeclared_fields_are_refused_at_every_depth_with_their_pointer() -> None:
    data = {
        "title": "VPN down",
        "colour": "red",
        "device": {"serial": "A1", "owner": "me"},
        "parts": [{"sku": "1"}, {"sku": "2", "qty": 3}],
        "pair": [{"a": 1, "b": 2}],
        "extra": {"anything": "goes"},
        "rows": {"r1": {"n": 1}, "r2": {"n": 2, "m": 3}},
        "free": {"any": {"shape": 1}},
        "tagged": {"a": 1, "x-note": 2, "other": 3},
    }
    assert [(p.pointer, p.detail) for p in data_problems(NESTED, data)] == [
        ("/colour", "this field is not allowed here"),
        ("/device/owner", "this field is not allowed here"),
        ("/pair/0/b", "this field is not allowed here"),
        ("/parts/1/qty", "this field is not allowed here"),
        ("/rows/r2/m", "this field is not allowed here"),
    ]
    zh = {**NESTED, "x-language": "zh"}
    assert [(p.pointer, p.detail) for p in data_problems(zh, {"colour": 1})] == [
        ("/colour", "不允许填写此项")
    ]


def test_a_form_opts_in_to_fields_it_does_not_name() -> None:
    for opened in ({"additionalProperties": True}, {"additionalProperties": {}},
                   {"unevaluatedProperties": True}):  # fmt: skip
        assert data_problems({**NESTED, **opened}, {"colour": "red"}) == []
    explicit = data_problems({**NESTED, "additionalProperties": False}, {"colour": "red"})
    assert [p.pointer for p in explicit] == ["/colour"]
    # Fields declared by a branch of the same object are declared.
    branches = {
        "type": "object",
        "properties": {"kind": {}},
        "if": {"properties": {"kind": {"const": "hw"}}},
        "then": {"properties": {"serial": {}}},
        "allOf": [{"properties": {"site": {}}}],
    }
    assert data_problems(branches, {"kind": "hw", "serial": "1", "site": "x"}) == []
    assert [p.pointer for p in data_problems(branches, {"kind": "hw", "os": "x"})] == ["/os"]
