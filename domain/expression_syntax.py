"""An expression compiled for the `cel` evaluator, and its parse tree from cel-python's parser.

The `cel` package evaluates but exposes no syntax tree, so the tree comes from `celpy` (a Lark
grammar of CEL); only its parser is used, never its evaluator. The tree tells what an
expression reads and how much work it can do on given data, before each evaluation.
"""

from __future__ import annotations

from functools import lru_cache

import cel
from celpy.celparser import CELParseError, CELParser
from lark import Token, Tree

from domain.definitions import EXPRESSION_MAX_LENGTH


class ExpressionError(ValueError):
    """An expression that does not compile or cannot be evaluated on the data it was given."""


# The macros that iterate over a list or map.
COMPREHENSIONS = frozenset({"all", "exists", "exists_one", "map", "filter"})

Node = Tree[Token]


@lru_cache(maxsize=4096)
def compile_expression(source: str) -> cel.Program:
    """Compile an expression once for the `cel` evaluator; ExpressionError if it is invalid."""
    if len(source) > EXPRESSION_MAX_LENGTH:
        raise ExpressionError(f"longer than {EXPRESSION_MAX_LENGTH} characters")
    try:
        return cel.compile(source)
    except (ValueError, RuntimeError) as exc:
        raise ExpressionError(str(exc).splitlines()[0]) from None


@lru_cache(maxsize=1)
def _parser() -> CELParser:
    """The one parser: building its LALR tables takes a tenth of a second."""
    return CELParser()


@lru_cache(maxsize=4096)
def parse(source: str) -> Node:
    """The expression's parse tree (shared: never change it); ExpressionError if it has none."""
    try:
        return _parser().parse(source)
    except CELParseError as exc:
        raise ExpressionError(str(exc.args[0]).splitlines()[0]) from None
