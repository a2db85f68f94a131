"""Conditions and computed values in CEL (the Common Expression Language), evaluated purely.

CEL has no loops, no I/O and no clock, and the `cel` package evaluates it in Rust: the same
expression over the same data gives the same value on every replay, so the workflow may
evaluate it itself. Programs are compiled once per text and kept.

Each evaluation is given only the data its expression reads (`read_paths`), since handing a
value to the evaluator costs about a microsecond per element, and is first bounded on that data
(`expression_cost`): one decision may spend `STEP_BUDGET` steps, and an expression that could
spend more is refused before it runs, like one that cannot be evaluated.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import cel

from domain.expression_analysis import read_paths
from domain.expression_cost import CONVERSION_STEPS_PER_SIZE, STEP_BUDGET, Sizes, bound
from domain.expression_syntax import ExpressionError, compile_expression

__all__ = [
    "Context",
    "ExpressionError",
    "compile_expression",
    "evaluate",
    "holds",
    "prepare",
    "steps",
]

# A selection is a trie of the context's keys; this leaf means the whole value there is read.
_WHOLE = None
_Trie = dict[str, "_Trie | None"]


@dataclass
class Prepared:
    """A context measured once for several expressions, with the steps they may still spend."""

    sizes: Sizes
    remaining: int = STEP_BUDGET

    def spend(self, source: str, steps: int) -> None:
        """Take an expression's steps from the budget; ExpressionError if they do not fit."""
        if steps > self.remaining:
            raise ExpressionError(
                f"{source!r} could take {steps:,} steps on this data; one decision may take"
                f" {STEP_BUDGET:,} and {self.remaining:,} are left"
            )
        self.remaining -= steps


# A context as a dict, or prepared once for several expressions (`prepare`).
Context = dict[str, Any] | Prepared


def prepare(context: dict[str, Any]) -> Prepared:
    """The context for one decision: a gateway's branches share its measurements and budget."""
    return Prepared(Sizes(context))


def steps(source: str, context: Context) -> tuple[dict[str, Any], int]:
    """The data the expression reads, and the most steps handing it over and evaluating take."""
    sizes = context.sizes if isinstance(context, Prepared) else Sizes(context)
    try:
        selected, size = _select(sizes, read_paths(source))
        return selected, bound(source, sizes) + CONVERSION_STEPS_PER_SIZE * size
    except RecursionError:
        # Deeper than any form or published expression nests.
        raise ExpressionError(f"{source!r}: the data is nested too deeply") from None


def evaluate(source: str, context: Context) -> Any:
    """The expression's value over `context`; ExpressionError when it cannot be evaluated."""
    program = compile_expression(source)
    prepared = context if isinstance(context, Prepared) else prepare(context)
    selected, needed = steps(source, prepared)
    prepared.spend(source, needed)
    try:
        return program.execute(cel.Context(selected))
    except (KeyError, ValueError, TypeError, RuntimeError) as exc:
        raise ExpressionError(f"{source!r}: {exc}") from None


def holds(source: str, context: Context) -> bool:
    """Whether a condition is true; a condition that is not a boolean is an ExpressionError."""
    value = evaluate(source, context)
    if not isinstance(value, bool):
        raise ExpressionError(f"{source!r} gave {type(value).__name__}, not a boolean")
    return value


def _select(sizes: Sizes, paths: Iterable[tuple[str, ...]]) -> tuple[dict[str, Any], int]:
    """The part of the context these paths reach, and its size (what converting it costs)."""
    trie: _Trie = {}
    for path in paths:
        node: _Trie | None = trie
        for step in path[:-1]:
            assert node is not None
            node = node.setdefault(step, {})
            if node is _WHOLE:
                break  # a shorter path already reads all of it
        else:
            if node is not None and path:
                node[path[-1]] = _WHOLE
    return _extract(sizes, sizes.data, trie)


def _extract(sizes: Sizes, data: Mapping[str, Any], trie: _Trie) -> tuple[dict[str, Any], int]:
    selected: dict[str, Any] = {}
    size = 1
    for key, below in trie.items():
        if key not in data:
            continue
        value = data[key]
        if below is _WHOLE or not isinstance(value, Mapping):
            selected[key] = value
            size += sizes.shape(value).size
        else:
            selected[key], inner = _extract(sizes, value, below)
            size += inner
    return selected, size
