"""Refusing regular expressions that can backtrack for ever (ReDoS) before a form is published.

Python's `re` backtracks, so a pattern such as `^(a+)+$` takes exponential time on a string
like "aaaa…!". Form patterns come from process owners and run on every submission, so a
pattern is refused when it nests an unbounded quantifier inside another repetition or uses a
backreference; both are the classic shapes of catastrophic backtracking.
"""

from __future__ import annotations

import importlib
import re
from typing import Any

MAX_PATTERN_LENGTH = 1000
# Longer strings are refused without running the pattern: it bounds polynomial backtracking.
MAX_PATTERN_INPUT = 1000

# The parser behind `re.compile`; private, so it is loaded by name and used read-only.
_parser: Any = importlib.import_module("re._parser")
_constants: Any = importlib.import_module("re._constants")
_REPEATS = {_constants.MAX_REPEAT, _constants.MIN_REPEAT, _constants.POSSESSIVE_REPEAT}
_BACKREFERENCES = {_constants.GROUPREF, _constants.GROUPREF_EXISTS}


def pattern_problem(pattern: str) -> str | None:
    """Say why a regular expression may not be used in a form, or None when it may."""
    if len(pattern) > MAX_PATTERN_LENGTH:
        return f"the pattern is longer than {MAX_PATTERN_LENGTH} characters"
    try:
        parsed = _parser.parse(pattern)
    except re.error as exc:
        return f"not a valid regular expression: {exc}"
    return _shape_problem(list(parsed), enclosing="")


def _shape_problem(items: list[Any], *, enclosing: str) -> str | None:
    """Walk the parsed pattern; `enclosing` is "", "bounded" or "unbounded" repetition."""
    for op, arg in items:
        if op in _BACKREFERENCES:
            return "backreferences are not allowed in form patterns (they can backtrack for ever)"
        inner = enclosing
        if op in _REPEATS:
            low, high = arg[0], arg[1]
            unbounded = high == _constants.MAXREPEAT
            if enclosing and high > low and (unbounded or enclosing == "unbounded"):
                return (
                    "nested quantifiers (such as (a+)+) are not allowed in form patterns: "
                    "they can backtrack for ever"
                )
            if high > 1:
                inner = "unbounded" if unbounded or enclosing == "unbounded" else "bounded"
        for child in _children(op, arg):
            problem = _shape_problem(child, enclosing=inner)
            if problem:
                return problem
    return None


def _children(op: Any, arg: Any) -> list[list[Any]]:
    """The sub-pattern lists below one parsed item."""
    if op in _REPEATS:
        return [list(arg[2])]
    if op == _constants.SUBPATTERN:
        return [list(arg[3])]
    if op == _constants.BRANCH:
        return [list(branch) for branch in arg[1]]
    if op in (_constants.ASSERT, _constants.ASSERT_NOT):
        return [list(arg[1])]
    if op == _constants.ATOMIC_GROUP:
        return [list(arg)]
    return []
