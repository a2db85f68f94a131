"""What a JSON value must be for the service to store and carry it (databases and Temporal).

Python accepts more than the stores do: a lone surrogate (`"\\ud800"`) cannot be encoded as
UTF-8, PostgreSQL text refuses NUL, integers beyond 64 bits overflow database columns and
other clients, NaN is no JSON number, and deep nesting exhausts recursion in the serialisers
long before the body size limit. `value_problems` finds each such value, by JSON pointer.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from domain.problems import Problem, pointer

MAX_DEPTH = 64
INT_MIN = -(2**63)
INT_MAX = 2**63 - 1
# Enough to show what is wrong without answering a flood with a flood.
MAX_PROBLEMS = 50

NUL = "NUL characters (U+0000) are not accepted"
SURROGATE = "lone surrogates (U+D800 to U+DFFF) are not Unicode characters and are not accepted"
TOO_DEEP = f"nested deeper than {MAX_DEPTH} levels"
OUT_OF_RANGE = "integers must lie between -2^63 and 2^63-1"
NOT_FINITE = "NaN and Infinity are not JSON numbers"


def text_problem(text: str) -> str | None:
    """Why a string (a value or a key) cannot be stored, or None."""
    if "\x00" in text:
        return NUL
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return SURROGATE
    return None


def _leaf_problem(value: object) -> str | None:
    kind = type(value)
    if kind is str:
        return text_problem(value)  # type: ignore[arg-type]
    if kind is int and not INT_MIN <= value <= INT_MAX:  # type: ignore[operator]
        return OUT_OF_RANGE
    if kind is float and not math.isfinite(value):  # type: ignore[arg-type]
        return NOT_FINITE
    return None


def _shown(key: str) -> str:
    # A pointer must itself encode as UTF-8 to be sent back: a surrogate is shown as \udXXX.
    return key.encode("utf-8", "backslashreplace").decode("utf-8")


def _walk(value: object) -> Iterator[Problem]:
    # Iterative, so depth is counted instead of exhausting the interpreter's recursion; leaves
    # are checked in place, as a body is mostly leaves.
    if not isinstance(value, dict | list):
        problem = _leaf_problem(value)
        if problem:
            yield Problem(pointer="", detail=problem)
        return
    stack: list[tuple[dict[Any, Any] | list[Any], tuple[str | int, ...]]] = [(value, ())]
    while stack:
        node, path = stack.pop()
        if len(path) >= MAX_DEPTH:
            yield Problem(pointer=pointer(*path), detail=TOO_DEEP)
            continue
        children = []
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for key, item in items:
            if isinstance(key, str) and (key_problem := text_problem(key)):
                yield Problem(pointer=pointer(*path, _shown(key)), detail=key_problem)
            elif isinstance(item, dict | list):
                children.append((item, (*path, key)))
            elif problem := _leaf_problem(item):
                yield Problem(pointer=pointer(*path, key), detail=problem)
        stack.extend(reversed(children))


def value_problems(value: object) -> list[Problem]:
    """Every value (at most MAX_PROBLEMS) the service could not store or carry."""
    problems = []
    for problem in _walk(value):
        problems.append(problem)
        if len(problems) == MAX_PROBLEMS:
            break
    return problems
