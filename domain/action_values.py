"""Bounds on what an action gives back: its output becomes stage data in the ticket's history."""

from __future__ import annotations

import json
import re
from typing import Any

from domain.json_values import value_problems
from domain.problems import Problem, Rejected, pointer

# An output is carried in Temporal payloads and every later expression context, and stored
# with the ticket's events: small enough that a chatty endpoint cannot bloat a ticket.
MAX_OUTPUT_BYTES = 64 * 1024
MAX_FIELDS = 50
FIELD_NAME = re.compile(r"[a-z][a-z0-9_]{0,62}")


def output_problems(output: dict[str, Any], *, at: tuple[str | int, ...] = ()) -> list[Problem]:
    """What makes `output` unfit to store: values no store carries, or more than the size bound."""
    problems = [
        Problem(pointer=pointer(*at) + problem.pointer, detail=problem.detail)
        for problem in value_problems(output)
    ]
    if problems:
        return problems
    try:
        size = len(json.dumps(output, ensure_ascii=False, allow_nan=False).encode("utf-8"))
    except (TypeError, ValueError) as exc:
        return [Problem(pointer=pointer(*at), detail=f"not JSON: {exc}")]
    if size > MAX_OUTPUT_BYTES:
        return [
            Problem(
                pointer=pointer(*at),
                detail=f"{size} bytes of JSON; an action's output is at most {MAX_OUTPUT_BYTES}",
            )
        ]
    return []


def checked_fields(params: dict[str, Any]) -> dict[str, Any]:
    """`ticket.set_fields`' output: its evaluated `fields`, if names and values are fit to store."""
    fields = params.get("fields")
    extra = sorted(set(params) - {"fields"})
    problems = [Problem(pointer=pointer(name), detail="not a parameter") for name in extra]
    if not isinstance(fields, dict) or not fields:
        problems.append(Problem(pointer="/fields", detail="must be an object with fields"))
        raise Rejected(problems)
    if len(fields) > MAX_FIELDS:
        problems.append(Problem(pointer="/fields", detail=f"at most {MAX_FIELDS} fields"))
    problems += [
        Problem(
            pointer=pointer("fields", name),
            detail="a field name is lower case letters, digits and _ (at most 63)",
        )
        for name in fields
        if not FIELD_NAME.fullmatch(name)
    ]
    problems += output_problems(fields, at=("fields",))
    if problems:
        raise Rejected(problems)
    return fields
