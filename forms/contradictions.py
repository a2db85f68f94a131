"""Forms no submission can satisfy: bounds that exclude every value, choices the field refuses.

A form with `minimum: 1, maximum: 0` is valid JSON Schema, so the meta-schema accepts it, and
then every ticket filed against it is refused. Each contradiction is a publish problem at the
keyword's pointer, at every depth, in the form's language (forms.messages).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from domain.problems import pointer
from forms.messages import contradiction_message, form_language
from forms.schema_walk import LIST_OF_SUBSCHEMAS, Path, subschemas

Found = tuple[str, str]
DataCheck = Callable[[dict[str, Any], object], list[tuple[str, str]]]

# (lower keyword, upper keyword, whether equal values still leave one): lengths and counts.
COUNT_BOUNDS = (
    ("minLength", "maxLength"),
    ("minItems", "maxItems"),
    ("minProperties", "maxProperties"),
    ("minContains", "maxContains"),
)
# The keywords that judge one value on their own (no subschema, no reference): a choice, a
# constant or a default is checked against these of its own node.
VALUE_KEYWORDS = frozenset(
    {
        "type",
        "enum",
        "const",
        "multipleOf",
        "maximum",
        "exclusiveMaximum",
        "minimum",
        "exclusiveMinimum",
        "maxLength",
        "minLength",
        "pattern",
        "format",
        "maxItems",
        "minItems",
        "uniqueItems",
        "maxProperties",
        "minProperties",
        "required",
    }
)
# Branches that describe the same object as their parent (their `required` names its fields;
# a condition's or a negation's names can never contradict anything).
_SAME_OBJECT = ("allOf", "anyOf", "oneOf", "then", "else")
_ALTERNATIVES = ("allOf", "anyOf", "oneOf")


def contradiction_problems(schema: dict[str, Any], check: DataCheck) -> Iterator[Found]:
    """(pointer, detail) for every contradiction in the form; `check` validates a value."""
    language = form_language(schema)
    for node, path in subschemas(schema):
        branch = len(path) >= 1 and (
            path[-1] in _SAME_OBJECT or (len(path) >= 2 and path[-2] in _ALTERNATIVES)
        )
        for parts, key, values in _node_problems(node, check, language, branch=branch):
            yield pointer(*path, *parts), contradiction_message(key, values, language)


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _node_problems(
    node: dict[str, Any], check: DataCheck, language: str, *, branch: bool
) -> Iterator[tuple[Path, str, dict[str, object]]]:
    yield from _range_problems(node)
    for low, high in COUNT_BOUNDS:
        lo, hi = _number(node.get(low)), _number(node.get(high))
        if lo is not None and hi is not None and lo > hi:
            yield (low,), "bounds", {"a": low, "x": node[low], "b": high, "y": node[high]}
    yield from _value_problems(node, check, language)
    if not branch:
        yield from _required_problems(node)


def _range_problems(node: dict[str, Any]) -> Iterator[tuple[Path, str, dict[str, object]]]:
    lower = [(k, _number(node.get(k))) for k in ("minimum", "exclusiveMinimum")]
    upper = [(k, _number(node.get(k))) for k in ("maximum", "exclusiveMaximum")]
    for low, lo in lower:
        for high, hi in upper:
            if lo is None or hi is None:
                continue
            inclusive = low == "minimum" and high == "maximum"
            if lo > hi or (lo == hi and not inclusive):
                yield (low,), "bounds", {"a": low, "x": node[low], "b": high, "y": node[high]}
                return
    types = node.get("type")
    if types == "integer" or types == ["integer"]:
        least = (
            max(
                (math.floor(v) + 1 if k == "exclusiveMinimum" else math.ceil(v))
                for k, v in lower
                if v is not None
            )
            if any(v is not None for _, v in lower)
            else None
        )
        most = (
            min(
                (math.ceil(v) - 1 if k == "exclusiveMaximum" else math.floor(v))
                for k, v in upper
                if v is not None
            )
            if any(v is not None for _, v in upper)
            else None
        )
        if least is not None and most is not None and least > most:
            yield ("type",), "no_integer", {}


def _own_rules(node: dict[str, Any], without: str, language: str) -> dict[str, Any]:
    rules = {k: v for k, v in node.items() if k in VALUE_KEYWORDS and k != without}
    rules["x-language"] = language
    return rules


def _value_problems(
    node: dict[str, Any], check: DataCheck, language: str
) -> Iterator[tuple[Path, str, dict[str, object]]]:
    choices = node.get("enum")
    if isinstance(choices, list):
        rules = _own_rules(node, "enum", language)
        for i, choice in enumerate(choices):
            for where, detail in check(rules, choice)[:1]:
                yield ("enum", i), "choice", {"detail": _at(where, detail)}
    if "const" in node:
        rules = _own_rules(node, "const", language)
        for where, detail in check(rules, node["const"])[:1]:
            yield ("const",), "constant", {"detail": _at(where, detail)}
    if "default" in node and not _refers(node):
        # The whole node, subschemas too: a default is filled in as if the person had typed it.
        whole = {k: v for k, v in node.items() if k not in ("default", "examples")}
        whole["x-language"] = language
        for where, detail in check(whole, node["default"])[:1]:
            yield ("default",), "default", {"detail": _at(where, detail)}


def _at(where: str, detail: str) -> str:
    return f"{where}: {detail}" if where else detail


def _refers(node: object) -> bool:
    """Whether a reference sits anywhere in this node (it resolves only from the whole form)."""
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if "$ref" in item or "$dynamicRef" in item:
                return True
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def declared_names(node: Mapping[str, Any]) -> set[str] | None:
    """The fields an object node declares: its own and its same-object branches' properties.

    None when it takes fields it does not name (additional, pattern or unevaluated ones) or a
    branch refers elsewhere.
    """
    names: set[str] = set()
    stack: list[object] = [node]
    while stack:
        item = stack.pop()
        if not isinstance(item, Mapping):
            continue
        opens = ("additionalProperties", "unevaluatedProperties", "patternProperties")
        if "$ref" in item or any(k in item and item[k] is not False for k in opens):
            return None
        properties = item.get("properties")
        if isinstance(properties, Mapping):
            names |= set(properties)
        for key in _SAME_OBJECT:
            branch = item.get(key)
            if key in LIST_OF_SUBSCHEMAS and isinstance(branch, list):
                stack.extend(branch)
            elif branch is not None:
                stack.append(branch)
    return names


def _required_problems(node: dict[str, Any]) -> Iterator[tuple[Path, str, dict[str, object]]]:
    # Checked where the fields are declared; branches are judged with their parent's fields.
    if not isinstance(node.get("properties"), dict):
        return
    names = declared_names(node)
    if names is None:
        return
    stack: list[tuple[object, Path]] = [(node, ())]
    while stack:
        item, at = stack.pop()
        if not isinstance(item, dict):
            continue
        required = item.get("required")
        if isinstance(required, list):
            for i, name in enumerate(required):
                if isinstance(name, str) and name not in names:
                    yield (*at, "required", i), "undeclared_required", {"name": name}
        for key in _SAME_OBJECT:
            branch = item.get(key)
            if key in LIST_OF_SUBSCHEMAS and isinstance(branch, list):
                stack.extend((b, (*at, key, i)) for i, b in enumerate(branch))
            elif branch is not None:
                stack.append((branch, (*at, key)))


def declared_fields(node: Mapping[str, Any]) -> dict[str, list[object]] | None:
    """Each field an object node declares with its schemas (from the node and its same-object
    branches); None when the node takes fields it does not name (see declared_names)."""
    if declared_names(node) is None:
        return None
    found: dict[str, list[object]] = {}
    stack: list[object] = [node]
    while stack:
        item = stack.pop()
        if not isinstance(item, Mapping):
            continue
        properties = item.get("properties")
        if isinstance(properties, Mapping):
            for name, schema in properties.items():
                found.setdefault(name, []).append(schema)
        for key in _SAME_OBJECT:
            branch = item.get(key)
            if key in LIST_OF_SUBSCHEMAS and isinstance(branch, list):
                stack.extend(branch)
            elif branch is not None:
                stack.append(branch)
    return found
