"""Conditions and computed values in CEL (the Common Expression Language), evaluated purely.

CEL has no loops, no I/O and no clock, and the `cel` package evaluates it in Rust: the same
expression over the same data gives the same value on every replay, so the workflow may
evaluate it itself. Programs are compiled once per text and kept.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import cel

from domain.definitions import EXPRESSION_MAX_LENGTH


class ExpressionError(ValueError):
    """An expression that does not compile or cannot be evaluated on the data it was given."""


@lru_cache(maxsize=4096)
def compile_expression(source: str) -> cel.Program:
    """Compile an expression once; ExpressionError when it is too long or does not parse."""
    if len(source) > EXPRESSION_MAX_LENGTH:
        raise ExpressionError(f"longer than {EXPRESSION_MAX_LENGTH} characters")
    try:
        return cel.compile(source)
    except (ValueError, RuntimeError) as exc:
        raise ExpressionError(str(exc).splitlines()[0]) from None


# A context as a dict, or converted once for several expressions (`prepare`).
Context = dict[str, Any] | cel.Context


def prepare(context: dict[str, Any]) -> cel.Context:
    """The context converted once: a gateway's branches then share the conversion."""
    try:
        return cel.Context(context)
    except (KeyError, ValueError, TypeError, RuntimeError) as exc:
        raise ExpressionError(f"the data cannot be given to expressions: {exc}") from None


def evaluate(source: str, context: Context) -> Any:
    """The expression's value over `context`; ExpressionError when it cannot be evaluated."""
    program = compile_expression(source)
    try:
        return program.execute(context)
    except (KeyError, ValueError, TypeError, RuntimeError) as exc:
        raise ExpressionError(f"{source!r}: {exc}") from None


def holds(source: str, context: Context) -> bool:
    """Whether a condition is true; a condition that is not a boolean is an ExpressionError."""
    value = evaluate(source, context)
    if not isinstance(value, bool):
        raise ExpressionError(f"{source!r} gave {type(value).__name__}, not a boolean")
    return value
