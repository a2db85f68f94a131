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
from functools import lru_cache, partial
from typing import Any
from urllib.parse import unquote

from anyio import CapacityLimiter, to_thread
from anyio.lowlevel import RunVar
from jsonschema import Draft202012Validator, FormatChecker, validators
from jsonschema.exceptions import ValidationError
from referencing import Registry

from domain.problems import Problem, pointer
from forms import patterns
from forms.annotations import annotation_problems
from forms.contradictions import contradiction_problems, declared_fields
from forms.messages import error_message, form_language, message

DIALECT = "https://json-schema.org/draft/2020-12/schema"
MAX_SCHEMA_BYTES = 256 * 1024
MAX_SCHEMA_DEPTH = 32
# Checks running at once in worker threads; more wait their turn instead of taking every
# thread the server has (its default pool also serves file and sync calls).
MAX_CONCURRENT_CHECKS = 4
_CHECK_LIMITER: RunVar[CapacityLimiter] = RunVar("form_check_limiter")

# Patterns are checked by forms.patterns (on RE2, with a clear message); the meta-schema's own
# "regex" format would compile them with Python's `re` and say only "is not a 'regex'".
_META_VALIDATOR = Draft202012Validator(
    Draft202012Validator.META_SCHEMA,
    format_checker=FormatChecker(
        formats=[f for f in Draft202012Validator.FORMAT_CHECKER.checkers if f != "regex"]
    ),
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


@_FORMAT_CHECKER.checks("regex")
def _is_regex(instance: object) -> bool:
    # A value that is to be a pattern is one a form could use: RE2's dialect, not Python's.
    return not isinstance(instance, str) or patterns.pattern_problem(instance) is None


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
    if not reported:
        # Contradictions are judged on a structurally valid form, all of them at once.
        problems.extend(
            Problem(pointer=at + where, detail=detail)
            for where, detail in contradiction_problems(schema, _value_check)
        )
    if not problems:
        problems.extend(_example_problems(schema, at))
    return sorted(problems, key=lambda p: (p.pointer, p.detail))


def _value_check(rules: dict[str, Any], value: object) -> list[tuple[str, str]]:
    """How a value fails these rules (a pattern RE2 refuses is reported on its own)."""
    try:
        return [(p.pointer, p.detail) for p in data_problems(rules, value)]
    except patterns.PatternRefused:
        return []


def check_limiter() -> CapacityLimiter:
    """This event loop's limit on form checks running in worker threads at once."""
    try:
        return _CHECK_LIMITER.get()
    except LookupError:
        limiter = CapacityLimiter(MAX_CONCURRENT_CHECKS)
        _CHECK_LIMITER.set(limiter)
        return limiter


async def schema_problems_in_thread(schema: object, *, at: str = "") -> list[Problem]:
    """`schema_problems` in a worker thread: a slow form never holds up the event loop."""
    check = partial(schema_problems, schema, at=at)
    return await to_thread.run_sync(check, limiter=check_limiter())


async def data_problems_in_thread(schema: dict[str, Any], data: object) -> list[Problem]:
    """`data_problems` in a worker thread: a slow submission never holds up the event loop."""
    check = partial(data_problems, schema, data)
    return await to_thread.run_sync(check, limiter=check_limiter())


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
    for p in undeclared_problems(schema, data, language):
        unique[(p.pointer, p.detail)] = p
    return [unique[key] for key in sorted(unique)]


def undeclared_problems(schema: dict[str, Any], data: object, language: str) -> list[Problem]:
    """Fields of the data that the form does not declare where they are, at every depth.

    An object that lists its properties takes no others unless it says so (a non-false
    `additionalProperties`, `patternProperties` or `unevaluatedProperties`); one that lists
    none is free-form. Data is walked without recursion.
    """
    detail = message("additionalProperties", None, language) or "this field is not allowed here"
    found: list[Problem] = []
    # Per node (by identity: the schema does not change during the walk): its declared fields.
    fields: dict[int, dict[str, list[object]] | None] = {}
    stack: list[tuple[object, object, tuple[str | int, ...]]] = [(schema, data, ())]
    while stack:
        node, value, at = stack.pop()
        node = _resolved(schema, node)
        if not isinstance(node, dict):
            continue
        if isinstance(value, dict):
            if id(node) not in fields:
                fields[id(node)] = declared_fields(node)
            declared = fields[id(node)]
            for name, child in value.items():
                schemas = declared.get(name) if declared is not None else None
                if declared and schemas is None:
                    found.append(Problem(pointer=pointer(*at, name), detail=detail))
                elif schemas:
                    stack.extend((s, child, (*at, name)) for s in schemas)
                elif isinstance(node.get("additionalProperties"), dict):
                    stack.append((node["additionalProperties"], child, (*at, name)))
        elif isinstance(value, list):
            prefix = node.get("prefixItems")
            prefix = prefix if isinstance(prefix, list) else []
            for i, child in enumerate(value):
                item = prefix[i] if i < len(prefix) else node.get("items")
                stack.append((item, child, (*at, i)))
    return found


def _resolved(schema: dict[str, Any], node: object) -> object:
    """The node a local reference points at (followed a bounded number of times)."""
    for _ in range(MAX_SCHEMA_DEPTH):
        if not isinstance(node, dict) or not isinstance(node.get("$ref"), str):
            return node
        reference = node["$ref"]
        if _local_reference_problem(schema, reference) is not None:
            return None
        target: object = schema
        for token in reference[2:].split("/") if reference != "#" else []:
            name = unquote(token).replace("~1", "/").replace("~0", "~")
            target = target[int(name)] if isinstance(target, list) else target[name]  # type: ignore[index]
        node = target
    return None


def _pattern(
    validator: Draft202012Validator, pattern: str, instance: object, schema: dict[str, Any]
) -> Iterator[ValidationError]:
    """`pattern` on RE2 instead of Python's backtracking `re`."""
    if isinstance(instance, str) and not patterns.search(pattern, instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


def _pattern_properties(
    validator: Draft202012Validator,
    pattern_properties: dict[str, Any],
    instance: object,
    schema: dict[str, Any],
) -> Iterator[ValidationError]:
    """`patternProperties` on RE2."""
    if not isinstance(instance, dict):
        return
    for pattern, subschema in pattern_properties.items():
        for name, value in instance.items():
            if patterns.search(pattern, name):
                yield from validator.descend(value, subschema, path=name, schema_path=pattern)


def _additional_properties(
    validator: Draft202012Validator, additional: object, instance: object, schema: dict[str, Any]
) -> Iterator[ValidationError]:
    """`additionalProperties`, telling pattern properties apart on RE2."""
    if not isinstance(instance, dict):
        return
    extras = _unexpected_properties(schema, instance)
    if isinstance(additional, dict):
        for name in extras:
            yield from validator.descend(instance[name], additional, path=name)
    elif additional is False and extras:
        listed = ", ".join(repr(name) for name in sorted(extras))
        yield ValidationError(f"Additional properties are not allowed ({listed} unexpected)")


_FormValidator: type[Draft202012Validator] = validators.extend(  # type: ignore[no-untyped-call]
    Draft202012Validator,
    {
        "pattern": _pattern,
        "patternProperties": _pattern_properties,
        "additionalProperties": _additional_properties,
    },
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
    pattern_names = list(schema.get("patternProperties", {}))
    return [
        name
        for name in instance
        if name not in known and not any(patterns.search(p, name) for p in pattern_names)
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
