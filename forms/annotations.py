"""The keywords a form may use: JSON Schema 2020-12 plus Ticketflow's `x-` UI annotations.

A keyword the validator does not know is silently ignored by jsonschema, so a typo such as
`maxLenght` would publish a form that checks nothing; every keyword outside the 2020-12
vocabularies and the UI annotations below is refused instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from jsonschema import FormatChecker

from domain.problems import pointer
from forms.patterns import pattern_problem
from forms.schema_walk import subschemas

SENSITIVITIES = ("public", "internal", "confidential", "restricted")
DEFAULT_SENSITIVITY = "internal"
WIDGETS = ("text", "textarea", "select", "date-time", "phone", "file", "device-picker", "signature")
LANGUAGES = ("en", "zh")

JSON_SCHEMA_KEYWORDS = frozenset(
    {
        # core
        "$schema", "$id", "$ref", "$anchor", "$dynamicRef", "$dynamicAnchor", "$vocabulary",
        "$comment", "$defs",
        # applicator and unevaluated
        "prefixItems", "items", "contains", "additionalProperties", "properties",
        "patternProperties", "dependentSchemas", "propertyNames", "if", "then", "else", "allOf",
        "anyOf", "oneOf", "not", "unevaluatedItems", "unevaluatedProperties",
        # validation
        "type", "const", "enum", "multipleOf", "maximum", "exclusiveMaximum", "minimum",
        "exclusiveMinimum", "maxLength", "minLength", "pattern", "maxItems", "minItems",
        "uniqueItems", "maxContains", "minContains", "maxProperties", "minProperties",
        "required", "dependentRequired",
        # meta-data, format, content
        "title", "description", "default", "deprecated", "readOnly", "writeOnly", "examples",
        "format", "contentEncoding", "contentMediaType", "contentSchema",
    }
)  # fmt: skip
UI_KEYWORDS = frozenset(
    {
        "x-sensitivity", "x-maskable", "x-widget", "x-order", "x-placeholder", "x-help",
        "x-review", "x-confidence",
    }
)  # fmt: skip
ROOT_ONLY_KEYWORDS = frozenset({"x-language"})
KNOWN_FORMATS = frozenset(FormatChecker().checkers)
_OLD_KEYWORDS = {
    "definitions": "$defs",
    "dependencies": "dependentRequired or dependentSchemas",
    "$recursiveRef": "$dynamicRef",
    "$recursiveAnchor": "$dynamicAnchor",
}


def annotation_problems(schema: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """Yield (pointer, detail) for unsupported keywords and malformed UI annotations."""
    nodes = list(subschemas(schema))
    # jsonschema finds the properties an unevaluatedProperties leaves by running the form's
    # patternProperties with Python's backtracking `re`; forms run patterns on RE2 only.
    if any("patternProperties" in node for node, _ in nodes):
        for node, path in nodes:
            if "unevaluatedProperties" in node:
                yield (
                    pointer(*path, "unevaluatedProperties"),
                    "unevaluatedProperties cannot be used in a form with patternProperties; "
                    "use additionalProperties",
                )
    for node, path in nodes:
        for key in node:
            if key in ROOT_ONLY_KEYWORDS and path:
                yield pointer(*path, key), f"{key} is only allowed at the top of a form"
            elif key in _OLD_KEYWORDS:
                yield (
                    pointer(*path, key),
                    f"{key} is not a JSON Schema 2020-12 keyword; use {_OLD_KEYWORDS[key]}",
                )
            elif key not in JSON_SCHEMA_KEYWORDS | UI_KEYWORDS | ROOT_ONLY_KEYWORDS:
                yield pointer(*path, key), f"unsupported keyword {key!r}"
        for parts, detail in _value_problems(node, root=not path):
            yield pointer(*path, *parts), detail


def _value_problems(
    node: dict[str, Any], *, root: bool
) -> Iterator[tuple[tuple[str | int, ...], str]]:
    if "x-sensitivity" in node and node["x-sensitivity"] not in SENSITIVITIES:
        yield ("x-sensitivity",), f"must be one of {', '.join(SENSITIVITIES)}"
    if "x-widget" in node and node["x-widget"] not in WIDGETS:
        yield ("x-widget",), f"unknown widget; use one of {', '.join(WIDGETS)}"
    if node.get("x-widget") == "select" and not _has_choices(node):
        yield ("x-widget",), "a select needs the choices in enum (or items.enum)"
    for key in ("x-maskable", "x-review"):
        if key in node and not isinstance(node[key], bool):
            yield (key,), "must be true or false"
    if "x-confidence" in node and not _is_probability(node["x-confidence"]):
        yield ("x-confidence",), "must be a number from 0 to 1"
    for key in ("x-placeholder", "x-help"):
        if key in node and not (isinstance(node[key], str) and len(node[key]) <= 1000):
            yield (key,), "must be a string of at most 1000 characters"
    if root and "x-language" in node and node["x-language"] not in LANGUAGES:
        yield ("x-language",), f"must be one of {', '.join(LANGUAGES)}"
    if "x-order" in node:
        yield from _order_problems(node)
    if isinstance(node.get("format"), str) and node["format"] not in KNOWN_FORMATS:
        yield ("format",), f"unknown format {node['format']!r}; it would check nothing"
    if isinstance(node.get("pattern"), str):
        problem = pattern_problem(node["pattern"])
        if problem:
            yield ("pattern",), problem
    if isinstance(node.get("patternProperties"), dict):
        for name in node["patternProperties"]:
            problem = pattern_problem(name)
            if problem:
                yield ("patternProperties", name), problem
    yield from _condition_problems(node)


def _is_probability(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= 1


def _has_choices(node: dict[str, Any]) -> bool:
    items = node.get("items")
    return "enum" in node or (isinstance(items, dict) and "enum" in items)


def _order_problems(node: dict[str, Any]) -> Iterator[tuple[tuple[str | int, ...], str]]:
    order, names = node["x-order"], node.get("properties", {})
    if not isinstance(order, list) or not all(isinstance(n, str) for n in order):
        yield ("x-order",), "must be a list of property names"
        return
    for i, name in enumerate(order):
        if name not in names:
            yield ("x-order", i), f"{name!r} is not a property of this object"
        elif order.index(name) != i:
            yield ("x-order", i), f"{name!r} is listed twice"


def _condition_problems(
    node: dict[str, Any],
) -> Iterator[tuple[tuple[str | int, ...], str]]:
    # A condition on a field the form does not have can never be shown to the person filling it.
    condition = node.get("if")
    if not isinstance(condition, dict) or not isinstance(condition.get("properties"), dict):
        return
    names = node.get("properties", {})
    for name in condition["properties"]:
        if name not in names:
            yield ("if", "properties", name), f"the condition names {name!r}, not a field here"
