"""An upper bound on the work an expression does on given data, computed before it runs.

Publish checks bound an expression's text, not what it does with a ticket's data: two nested
`exists` over an intake list of thousands, or a `map` that copies a long string per element,
take seconds, and an evaluation inside a workflow task must take milliseconds. So before each
evaluation the parse tree is walked once with the sizes of the values it reads, and the result
bounds the steps the evaluator can take: one step per operation, per element copied or
compared, and per `BYTES_PER_STEP` bytes of text. Comprehensions multiply their body by the
size of what they range over, and `map` and `filter` also pay for their accumulator, which the
`cel` evaluator copies on every iteration (quadratic in the number of elements).

The bound is deterministic (a function of the text and the data), so a refusal replays the same.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from celpy.evaluation import celstr
from lark import Token, Tree

from domain.expression_syntax import COMPREHENSIONS, Node, parse

BYTES_PER_STEP = 64
# What one decision (a gateway's branches, a stage's parameters) may spend: measured in
# `bench/gateways.py`, the slowest shapes at this bound take well under a tenth of a second.
STEP_BUDGET = 1_000_000
# Methods whose value is a boolean or a number, whatever the size of their receiver.
SCALAR_METHODS = frozenset(
    {"size", "contains", "startsWith", "endsWith", "matches"}
    | {"getDate", "getDayOfMonth", "getDayOfWeek", "getDayOfYear", "getFullYear"}
    | {"getHours", "getMilliseconds", "getMinutes", "getMonth", "getSeconds"}
)
# Handing a value to the evaluator costs about a microsecond per element, some twenty steps.
CONVERSION_STEPS_PER_SIZE = 20
# A regular expression's automaton takes several steps per byte of the text it scans.
MATCH_STEPS_PER_SIZE = 8
SCALAR_FUNCTIONS = frozenset({"size", "has", "int", "uint", "double", "bool", "type"})
_BINARY = ("conditionalor", "conditionaland", "relation", "addition", "multiplication")


@dataclass(frozen=True, slots=True)
class Shape:
    """What is known of a value: its steps, its element count, and the largest of its elements.

    `element` joins the shapes of all elements (the largest size, count and so on down); None
    means nothing is known of them but that they are no larger than the value itself.
    """

    size: int = 1
    count: int = 0
    element: Shape | None = None

    def inner(self) -> Shape:
        """Any one element (or field) of this value."""
        return self if self.element is None else self.element

    @staticmethod
    def unknown(size: int) -> Shape:
        """A value of at most `size` steps, of which nothing else is known."""
        return Shape(size, size)


def join(a: Shape | None, b: Shape | None) -> Shape | None:
    """A shape as large as either: what a value that is one or the other can be."""
    if a is None or b is None:
        return a if b is None else b
    if (a.count and a.element is None) or (b.count and b.element is None):
        return Shape.unknown(max(a.size, b.size))
    return Shape(max(a.size, b.size), max(a.count, b.count), join(a.element, b.element))


SCALAR = Shape()
_UNKNOWN = object()
# A value as the bound sees it: its shape, or the data itself (measured only when needed)
# while a path can still be followed into it.
_Value = tuple[Shape | None, Any]
_Scope = Mapping[str, Shape]


@dataclass
class Sizes:
    """The shapes of a context's values, measured once per context and shared by its bounds."""

    data: Mapping[str, Any]
    _memo: dict[int, Shape] = field(default_factory=dict)

    def shape(self, value: Any) -> Shape:
        """The shape of one value of the context (containers measured once)."""
        if isinstance(value, str | bytes):
            return Shape(1 + len(value) // BYTES_PER_STEP)
        if not isinstance(value, list | tuple | dict):
            return SCALAR
        known = self._memo.get(id(value))
        if known is None:
            parts = list(value.keys()) + list(value.values()) if isinstance(value, dict) else value
            shapes = [self.shape(part) for part in parts]
            element: Shape | None = None
            for part in shapes:
                element = join(element, part)
            known = Shape(1 + sum(s.size for s in shapes), len(value), element or SCALAR)
            self._memo[id(value)] = known
        return known

    def of(self, value: _Value) -> Shape:
        """The shape of a value the bound has seen, measuring its data if need be."""
        shape, data = value
        return self.shape(data) if shape is None else shape


# The bound of one sub-expression, compiled once per text: steps and value, given the sizes.
_Cost = Callable[[Sizes, _Scope], tuple[int, _Value]]
# One link of a member chain (`.b`, `[c]`, `.d(x)`), applied to the value before it.
_Link = Callable[[Sizes, _Scope, _Value], tuple[int, _Value]]


def bound(source: str, sizes: Sizes) -> int:
    """The most steps evaluating `source` over the context measured by `sizes` can take.

    RecursionError for data or an expression nested deeper than the interpreter's stack.
    """
    return _compiled(source)(sizes, {})[0]


@lru_cache(maxsize=4096)
def _compiled(source: str) -> _Cost:
    return _compile(parse(source))


def _trees(node: Node) -> list[Node]:
    return [c for c in node.children if isinstance(c, Tree)]


def _compile(node: Node) -> _Cost:
    """The bound of `node` as a function of the sizes, with single-child levels folded away."""
    kids = _trees(node)
    while len(kids) == 1 and node.data in _PASSING:
        node = kids[0]
        kids = _trees(node)
    kind = node.data
    if kind in _BINARY:
        return _binary(node)
    if kind == "expr":
        return _conditional([_compile(k) for k in kids])
    if kind == "unary":
        inner = _compile(kids[-1])
        return lambda sizes, scope: (inner(sizes, scope)[0] + 1, (SCALAR, _UNKNOWN))
    if kind == "member" or kind.startswith("member_"):
        return _member(node)
    return _primary(node)


_PASSING = frozenset({"expr", "unary", "member", "primary", "paren_expr", *_BINARY})


def _conditional(parts: list[_Cost]) -> _Cost:
    def cost(sizes: Sizes, scope: _Scope) -> tuple[int, _Value]:
        results = [part(sizes, scope) for part in parts]
        joined = join(sizes.of(results[1][1]), sizes.of(results[2][1]))
        assert joined is not None
        return 1 + sum(steps for steps, _ in results), (joined, _UNKNOWN)

    return cost


def _binary(node: Node) -> _Cost:
    """A left-deep chain of one operator level (`a + b + c`), compiled without recursion."""
    operands: list[tuple[str, _Cost]] = []
    current = node
    while current.data in _BINARY and len(current.children) == 2:
        left, right = current.children
        assert isinstance(left, Tree)
        assert isinstance(right, Tree)
        # The left child is the operator's node holding the left operand or, for && and ||,
        # the left operand itself.
        operator = left.data if left.data not in _BINARY else current.data
        operands.append((operator, _compile(right)))
        inner = left.children[0] if left.data not in _BINARY else left
        assert isinstance(inner, Tree)
        current = inner
    first = _compile(current)
    operands.reverse()

    def cost(sizes: Sizes, scope: _Scope) -> tuple[int, _Value]:
        steps, value = first(sizes, scope)
        shape = sizes.of(value)
        for operator, operand in operands:
            more, value = operand(sizes, scope)
            other = sizes.of(value)
            steps += more + 1
            if operator == "addition_add":
                # Concatenation copies both sides; for numbers this only overstates.
                steps += shape.size + other.size
                shape = Shape(
                    shape.size + other.size,
                    shape.count + other.count,
                    join(shape.element, other.element),
                )
            elif operator.startswith("relation_"):
                steps += shape.size + other.size  # equality and `in` go element by element
                shape = SCALAR
            else:
                shape = SCALAR
        return steps, (shape, _UNKNOWN)

    return cost


def _member(node: Node) -> _Cost:
    """A member chain (`a.b[c].d(x)`): its base, then each link outwards."""
    links: list[_Link] = []
    current = node
    while current.data == "member" or current.data.startswith("member_"):
        if current.data != "member":
            links.append(_link(current))
        base = current.children[0]
        assert isinstance(base, Tree)
        current = base
    first = _compile(current)
    links.reverse()

    def cost(sizes: Sizes, scope: _Scope) -> tuple[int, _Value]:
        steps, value = first(sizes, scope)
        for link in links:
            more, value = link(sizes, scope, value)
            steps += more
        return steps, value

    return cost


def _link(node: Node) -> _Link:
    kind, kids = node.data, node.children
    if kind == "member_dot":
        name = str(kids[1])

        def field_of(sizes: Sizes, scope: _Scope, base: _Value) -> tuple[int, _Value]:
            data = base[1]
            if isinstance(data, Mapping) and name in data:
                return 1, (None, data[name])
            return 1, (sizes.of(base).inner(), _UNKNOWN)

        return field_of
    if kind == "member_index":
        index = kids[1]
        assert isinstance(index, Tree)
        key_cost = _compile(index)

        def item_of(sizes: Sizes, scope: _Scope, base: _Value) -> tuple[int, _Value]:
            steps, index_value = key_cost(sizes, scope)
            key, data = index_value[1], base[1]
            if isinstance(data, Mapping) and isinstance(key, str) and key in data:
                return steps + 1, (None, data[key])
            if isinstance(data, list) and isinstance(key, int) and 0 <= key < len(data):
                return steps + 1, (None, data[key])
            return steps + 1 + sizes.of(index_value).size, (sizes.of(base).inner(), _UNKNOWN)

        return item_of
    if kind == "member_dot_arg":
        arguments = [e for a in kids[2:] if isinstance(a, Tree) for e in _trees(a)]
        return _method(str(kids[1]), arguments)
    fields = _sum([_compile(k) for k in kids[1:] if isinstance(k, Tree)])  # a message literal
    return lambda sizes, scope, base: fields(sizes, scope)


def _method(name: str, exprs: list[Node]) -> _Link:
    variable = _bare_name(exprs[0]) if name in COMPREHENSIONS and len(exprs) >= 2 else None
    if variable is None:
        arguments = _sum([_compile(e) for e in exprs])
        factor = MATCH_STEPS_PER_SIZE if name == "matches" else 0
        scalar = name in SCALAR_METHODS

        def call(sizes: Sizes, scope: _Scope, target: _Value) -> tuple[int, _Value]:
            steps, args = arguments(sizes, scope)
            receiver = sizes.of(target).size
            reach = receiver + sizes.of(args).size
            steps += receiver + factor * reach
            return steps, ((SCALAR if scalar else Shape.unknown(reach)), _UNKNOWN)

        return call
    body = [_compile(e) for e in exprs[1:]]

    def comprehension(sizes: Sizes, scope: _Scope, target: _Value) -> tuple[int, _Value]:
        ranged = sizes.of(target)
        inside = {**scope, variable: ranged.inner()}
        each = 1
        result = SCALAR
        for part in body:
            more, value = part(sizes, inside)
            result = sizes.of(value)
            each += more
        n = ranged.count
        steps = n * each
        if name == "map":
            # The accumulator is copied on each iteration: 1 + 2 + ... + n results.
            steps += n * (n + 1) // 2 * result.size
            return steps, (Shape(1 + n * result.size, n, result), _UNKNOWN)
        if name == "filter":
            steps += n * (n + 1) // 2 * ranged.inner().size
            return steps, (ranged, _UNKNOWN)
        return steps, (SCALAR, _UNKNOWN)

    return comprehension


def _primary(node: Node) -> _Cost:
    kind = node.data
    kids = _trees(node)
    if kind in ("ident", "dot_ident"):
        name = str(node.children[-1])

        def named(sizes: Sizes, scope: _Scope) -> tuple[int, _Value]:
            bound_shape = scope.get(name)
            if bound_shape is not None:
                return 1, (bound_shape, _UNKNOWN)
            if name in sizes.data:
                return 1, (None, sizes.data[name])
            return 1, (SCALAR, _UNKNOWN)

        return named
    if kind == "literal":
        token = node.children[0]
        assert isinstance(token, Token)
        constant: _Value = (Shape(1 + len(token) // BYTES_PER_STEP), _literal(token))
        return lambda sizes, scope: (1, constant)
    if kind in ("ident_arg", "dot_ident_arg"):
        arguments = _sum([_compile(e) for a in kids for e in _trees(a)])
        scalar = str(node.children[0]) in SCALAR_FUNCTIONS

        def call(sizes: Sizes, scope: _Scope) -> tuple[int, _Value]:
            steps, value = arguments(sizes, scope)
            return steps, (SCALAR if scalar else Shape.unknown(sizes.of(value).size), _UNKNOWN)

        return call
    if kind in ("list_lit", "map_lit"):
        exprs = [e for a in kids for e in _trees(a)]
        items = _sum([_compile(e) for e in exprs])
        count = len(exprs) if kind == "list_lit" else len(exprs) // 2

        def collection(sizes: Sizes, scope: _Scope) -> tuple[int, _Value]:
            steps, value = items(sizes, scope)
            shape = sizes.of(value)
            return steps, (Shape(shape.size, count, shape.element), _UNKNOWN)

        return collection
    parts = [_compile(k) for k in kids]
    return _sum(parts)


def _sum(parts: list[_Cost]) -> _Cost:
    """Several sub-expressions: their steps, and a value as large as all of them together."""

    def cost(sizes: Sizes, scope: _Scope) -> tuple[int, _Value]:
        steps = size = 1
        element: Shape | None = None
        for part in parts:
            more, value = part(sizes, scope)
            shape = sizes.of(value)
            steps += more + shape.size
            size += shape.size
            element = join(element, shape)
        return steps, (Shape(size, len(parts), element), _UNKNOWN)

    return cost


def _bare_name(expr: Node) -> str | None:
    current: Tree[Token] | Token = expr
    while isinstance(current, Tree) and len(current.children) == 1:
        if current.data == "ident":
            return str(current.children[0])
        current = current.children[0]
    return None


def _literal(token: Token) -> Any:
    """A string or integer literal's value (an index the bound can follow), else unknown."""
    try:
        if token.type in ("STRING_LIT", "MLSTRING_LIT"):
            return str(celstr(token))
        if token.type == "INT_LIT":
            return int(str(token), 0)
    except ValueError:
        pass
    return _UNKNOWN
