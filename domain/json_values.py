"""What a JSON value must be for the service to store and carry it (databases and Temporal).

Python accepts more than the stores do: a lone surrogate (`"\\ud800"`) cannot be encoded as
UTF-8, PostgreSQL text refuses NUL, integers beyond 64 bits overflow database columns and
other clients, NaN is no JSON number, and deep nesting exhausts recursion in the serialisers
long before the body size limit. `value_problems` finds each such value, by JSON pointer.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

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
    if any("\ud800" <= c <= "\udfff" for c in text):
        return SURROGATE
    return None


def _shown(key: str) -> str:
    # A pointer must itself encode as UTF-8 to be sent back: a surrogate is shown as \udXXX.
    return key.encode("utf-8", "backslashreplace").decode("utf-8")


def _number_problem(value: object) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and not INT_MIN <= value <= INT_MAX:
        return OUT_OF_RANGE
    if isinstance(value, float) and not math.isfinite(value):
        return NOT_FINITE
    return None


def _walk(value: object) -> Iterator[Problem]:
    # Iterative, so depth is counted instead of exhausting the interpreter's recursion.
    stack: list[tuple[object, tuple[str | int, ...]]] = [(value, ())]
    while stack:
        node, path = stack.pop()
        if isinstance(node, dict | list) and len(path) >= MAX_DEPTH:
            yield Problem(pointer=pointer(*path), detail=TOO_DEEP)
            continue
        if isinstance(node, str):
            problem = text_problem(node)
        elif isinstance(node, dict):
            problem = None
            children: list[tuple[object, tuple[str | int, ...]]] = []
            for key, item in node.items():
                key_problem = text_problem(key) if isinstance(key, str) else None
                if key_problem:
                    yield Problem(pointer=pointer(*path, _shown(key)), detail=key_problem)
                else:
                    children.append((item, (*path, key)))
            stack.extend(reversed(children))
        elif isinstance(node, list):
            problem = None
            stack.extend((item, (*path, i)) for i, item in reversed(list(enumerate(node))))
        else:
            problem = _number_problem(node)
        if problem:
            yield Problem(pointer=pointer(*path), detail=problem)


def value_problems(value: object) -> list[Problem]:
    """Every value (at most MAX_PROBLEMS) the service could not store or carry, in order."""
    problems = []
    for problem in _walk(value):
        problems.append(problem)
        if len(problems) == MAX_PROBLEMS:
            break
    return problems
