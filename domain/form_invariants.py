"""A small, sandbox-safe subset of JSON Schema checks used as a last guard inside the workflow.

The API validates form data fully with `jsonschema` before sending an Update; the workflow's
Update validator re-checks the invariants that matter for the process (required fields are
present and top-level types are right) without importing jsonschema into the sandbox.
"""

from __future__ import annotations

from typing import Any

from domain.problems import Problem, pointer

_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list,),
    "null": (type(None),),
}


def _type_matches(value: Any, expected: str | list[str]) -> bool:
    names = [expected] if isinstance(expected, str) else expected
    for name in names:
        kinds = _JSON_TYPES.get(name)
        if kinds is None:
            return True
        if isinstance(value, bool) and name in ("integer", "number"):
            continue
        if isinstance(value, kinds):
            return True
    return False


def invariant_problems(schema: dict[str, Any] | None, data: dict[str, Any]) -> list[Problem]:
    """Check required properties and top-level property types of `data` against `schema`."""
    if not schema:
        return []
    problems: list[Problem] = []
    for name in schema.get("required", []):
        if name not in data:
            problems.append(
                Problem(pointer=pointer(name), detail=f"{name!r} is a required property")
            )
    properties: dict[str, Any] = schema.get("properties", {})
    for name, value in data.items():
        spec = properties.get(name)
        if isinstance(spec, dict) and "type" in spec and not _type_matches(value, spec["type"]):
            problems.append(
                Problem(pointer=pointer(name), detail=f"{name!r} must be of type {spec['type']}")
            )
    return problems
