"""Form validation with jsonschema: Draft 2020-12 form schemas and the data submitted to them.

Form schemas come from process owners, so they are treated as hostile: size and nesting are
bounded before jsonschema sees them, and only local references (`#` or `#/...`) are accepted.
`data_problems` expects a schema `schema_problems` accepted; it never fetches a reference, it
raises `referencing.exceptions.Unresolvable` instead.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from functools import lru_cache
from typing import Any
from urllib.parse import unquote

from jsonschema import Draft202012Validator, FormatChecker, validators
from jsonschema.exceptions import ValidationError
from referencing import Registry

from domain.problems import Problem, pointer
from forms.annotations import annotation_problems
from forms.messages import error_message, form_language, message
from forms.patterns import MAX_PATTERN_INPUT

DIALECT = "https://json-schema.org/draft/2020-12/schema"
MAX_SCHEMA_BYTES = 256 * 1024
MAX_SCHEMA_DEPTH = 32

_META_VALIDATOR = Draft202012Validator(
    Draft202012Validator.META_SCHEMA, format_checker=Draft202012Validator.FORMAT_CHECKER
)
_FORMAT_CHECKER = FormatChecker()
# jsonschema's own email check only looks for an "@"; forms need a deliverable-looking address:
# a dot-atom local part and a domain of at least two DNS labels, no spaces, within RFC 5321 sizes.
_EMAIL = re.compile(
    r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$"
)


@_FORMAT_CHECKER.checks("email")
def _is_email(instance: object) -> bool:
    if not isinstance(instance, str):
        return True
    local, _, _domain = instance.rpartition("@")
    return len(instance) <= 254 and len(local) <= 64 and _EMAIL.match(instance) is not None


_REF_KEYWORDS = ("$ref", "$dynamicRef")


def schema_problems(schema: object, *, at: str = "") -> list[Problem]:
    """List everything wrong with a form schema, each pointer prefixed with `at`."""
    if not isinstance(schema, dict):
        return [Problem(pointer=at, detail="a form schema must be a JSON object")]
    bound = _bound_problem(schema)
    if bound is not None:
        return [Problem(pointer=at, detail=bound)]
    problems = [
        Problem(pointer=at + pointer(*error.absolute_path), detail=error.message)
        for error in _META_VALIDATOR.iter_errors(schema)
    ]
    dialect = schema.get("$schema", DIALECT)
    if dialect not in (DIALECT, DIALECT + "#"):
        problems.append(
            Problem(
                pointer=at + "/$schema", detail=f"only JSON Schema 2020-12 ({DIALECT}) is supported"
            )
        )
    if schema.get("type") != "object":
        problems.append(
            Problem(pointer=at + "/type", detail='a form schema must have "type": "object"')
        )
    problems.extend(
        Problem(pointer=at + where, detail=detail) for where, detail in _reference_problems(schema)
    )
    # The meta-schema already reports a broken value; a second complaint at its place is noise.
    reported = {p.pointer for p in problems}
    problems.extend(
        Problem(pointer=at + where, detail=detail)
        for where, detail in annotation_problems(schema)
        if at + where not in reported
    )
    if not problems:
        problems.extend(_example_problems(schema, at))
    return sorted(problems, key=lambda p: (p.pointer, p.detail))


def _example_problems(schema: dict[str, Any], at: str) -> Iterator[Problem]:
    """A form's own `examples` must satisfy it: they are shown to people as valid input."""
    examples = schema.get("examples")
    if not isinstance(examples, list):
        return
    for i, example in enumerate(examples):
        for problem in data_problems(schema, example):
            yield Problem(
                pointer=at + pointer("examples", i) + problem.pointer, detail=problem.detail
            )


def data_problems(schema: dict[str, Any], data: object) -> list[Problem]:
    """List everything wrong with form data under `schema`, one problem per offending field.

    Messages are in the form's language (`x-language`, en or zh).
    """
    validator = _validator(json.dumps(schema, sort_keys=True, separators=(",", ":")))
    language = form_language(schema)
    unique = {
        (p.pointer, p.detail): p
        for error in validator.iter_errors(data)
        for p in _problems_of(error, language)
    }
    return [unique[key] for key in sorted(unique)]


def _bounded_pattern(
    validator: Draft202012Validator, pattern: str, instance: object, schema: dict[str, Any]
) -> Iterator[ValidationError]:
    """`pattern`, but never run on a string longer than MAX_PATTERN_INPUT characters."""
    if not isinstance(instance, str):
        return
    if len(instance) > MAX_PATTERN_INPUT:
        # Publishing refuses exponential patterns; this bounds the polynomial ones (.*.*x).
        yield ValidationError(
            f"{len(instance)} characters is too long to check against a pattern",
            validator="patternInputLength",
            validator_value=MAX_PATTERN_INPUT,
        )
    elif not re.search(pattern, instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


_FormValidator: type[Draft202012Validator] = validators.extend(  # type: ignore[no-untyped-call]
    Draft202012Validator, {"pattern": _bounded_pattern}
)


@lru_cache(maxsize=128)
def _validator(canonical_schema: str) -> Draft202012Validator:
    # An empty registry: jsonschema's default one still retrieves remote references over HTTP.
    return _FormValidator(
        json.loads(canonical_schema), format_checker=_FORMAT_CHECKER, registry=Registry()
    )


def _problems_of(error: ValidationError, language: str) -> Iterator[Problem]:
    at = list(error.absolute_path)
    required, instance = error.validator_value, error.instance
    if error.validator == "required" and isinstance(required, list) and isinstance(instance, dict):
        # jsonschema yields one error per missing name without naming it; name them all here
        # and let the caller drop the duplicates the sibling errors produce.
        detail = message("required", required, language) or error.message
        for name in required:
            if name not in instance:
                yield Problem(pointer=pointer(*at, name), detail=detail)
    elif error.validator == "additionalProperties" and isinstance(instance, dict):
        detail = message("additionalProperties", None, language) or error.message
        for name in _unexpected_properties(error.schema, instance):
            yield Problem(pointer=pointer(*at, name), detail=detail)
    else:
        yield Problem(pointer=pointer(*at), detail=error_message(error, language))


def _unexpected_properties(schema: object, instance: dict[str, Any]) -> list[str]:
    if not isinstance(schema, dict):
        return list(instance)
    known = schema.get("properties", {})
    patterns = list(schema.get("patternProperties", {}))
    return [
        name
        for name in instance
        if name not in known and not any(re.search(p, name) for p in patterns)
    ]


def _bound_problem(schema: dict[str, Any]) -> str | None:
    # Walk before serializing: a nested or self-referencing structure must be refused without
    # recursing, and every JSON value takes at least one byte, so counting values bounds the
    # work even for shared (YAML alias) subtrees.
    stack: list[tuple[object, int]] = [(schema, 1)]
    values = 0
    while stack:
        node, depth = stack.pop()
        values += 1
        if values > MAX_SCHEMA_BYTES:
            return f"the form schema is larger than {MAX_SCHEMA_BYTES} bytes"
        if isinstance(node, dict | list):
            if depth > MAX_SCHEMA_DEPTH:
                return f"the form schema is nested deeper than {MAX_SCHEMA_DEPTH} levels"
            children = node.values() if isinstance(node, dict) else node
            stack.extend((child, depth + 1) for child in children)
    try:
        size = len(json.dumps(schema, ensure_ascii=False).encode())
    except (TypeError, ValueError) as exc:
        return f"the form schema is not plain JSON: {exc}"
    if size > MAX_SCHEMA_BYTES:
        return f"the form schema is larger than {MAX_SCHEMA_BYTES} bytes"
    return None


def _reference_problems(schema: dict[str, Any]) -> Iterator[tuple[str, str]]:
    stack: list[tuple[object, tuple[str | int, ...]]] = [(schema, ())]
    while stack:
        node, path = stack.pop()
        if isinstance(node, list):
            stack.extend((child, (*path, i)) for i, child in enumerate(node))
        if not isinstance(node, dict):
            continue
        for key, child in node.items():
            if key in _REF_KEYWORDS and isinstance(child, str):
                problem = _local_reference_problem(schema, child)
                if problem:
                    yield pointer(*path, key), problem
            elif key == "$id" and path and isinstance(child, str):
                # A nested $id would change the base against which "#/..." is resolved.
                yield pointer(*path, key), "$id is only allowed at the top of a form schema"
            stack.append((child, (*path, key)))


def _local_reference_problem(schema: dict[str, Any], reference: str) -> str | None:
    if reference != "#" and not reference.startswith("#/"):
        return f"only local references (# or #/...) are allowed, not {reference!r}"
    node: object = schema
    for token in reference[2:].split("/") if reference != "#" else []:
        name = unquote(token).replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and name in node:
            node = node[name]
        elif isinstance(node, list) and name.isdigit() and int(name) < len(node):
            node = node[int(name)]
        else:
            return f"reference {reference!r} points at nothing in this form schema"
    return None
