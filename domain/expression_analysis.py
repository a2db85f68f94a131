"""What an expression names and how deeply it nests, read from CEL's parse tree.

The tree is cel-python's (`expression_syntax`). An expression must first compile with `cel`,
the evaluator that runs it, so both agree on what is valid. At run time only `read_paths` is
used: an evaluation is given just the data its expression reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from celpy.evaluation import celstr
from lark import Token, Tree

from domain.expression_syntax import COMPREHENSIONS, ExpressionError, compile_expression, parse

# Each level of comprehension nesting multiplies the work by the size of the data it ranges
# over, so nesting is bounded and cost stays polynomial in the data (`expression_cost`).
MAX_COMPREHENSION_NESTING = 2
# Sub-expressions within sub-expressions (arguments, parentheses, list items).
MAX_NESTING = 24
DYNAMIC = "*"  # a path step taken by a computed index


@dataclass(frozen=True)
class Reference:
    """A name the expression reads, with the field path after it (`*` for a computed index)."""

    path: tuple[str, ...]
    column: int

    @property
    def dotted(self) -> str:
        """The path as written, e.g. `stages.review.data.ok`."""
        return ".".join(self.path)


@dataclass(frozen=True)
class Analysis:
    """The free names an expression reads and its nesting depths."""

    references: tuple[Reference, ...]
    nesting: int
    comprehension_nesting: int


@dataclass
class _Scope:
    node: Tree[Token]
    bound: frozenset[str]
    nesting: int
    comprehensions: int


@lru_cache(maxsize=4096)
def analyse(source: str) -> Analysis:
    """Compile and analyse an expression; ExpressionError when it is invalid or too complex."""
    compile_expression(source)
    analysis = structure(source)
    if analysis.comprehension_nesting > MAX_COMPREHENSION_NESTING:
        raise ExpressionError(
            "comprehensions (map, filter, all, exists, exists_one) nest"
            f" {analysis.comprehension_nesting} deep;"
            f" at most {MAX_COMPREHENSION_NESTING} are allowed"
        )
    if analysis.nesting > MAX_NESTING:
        raise ExpressionError(
            f"nested {analysis.nesting} deep; at most {MAX_NESTING} levels are allowed"
        )
    return analysis


@lru_cache(maxsize=4096)
def read_paths(source: str) -> tuple[tuple[str, ...], ...]:
    """The data paths an expression reads, each up to its first computed index."""
    paths = []
    for reference in structure(source).references:
        steps = reference.path
        if DYNAMIC in steps:
            steps = steps[: steps.index(DYNAMIC)]
        paths.append(steps)
    return tuple(dict.fromkeys(paths))


@lru_cache(maxsize=4096)
def structure(source: str) -> Analysis:
    """What an expression names and how it nests, from its parse tree alone (no limits)."""
    references: list[Reference] = []
    nesting = comprehensions = 0
    todo = [_Scope(parse(source), frozenset(), 0, 0)]
    while todo:
        scope = todo.pop()
        nesting = max(nesting, scope.nesting)
        comprehensions = max(comprehensions, scope.comprehensions)
        todo.extend(_visit(scope, references))
    return Analysis(tuple(references), nesting, comprehensions)


def _child(scope: _Scope, node: Tree[Token], bound: frozenset[str] | None = None) -> _Scope:
    deeper = 1 if node.data == "expr" else 0
    return _Scope(
        node, scope.bound if bound is None else bound, scope.nesting + deeper, scope.comprehensions
    )


def _visit(scope: _Scope, references: list[Reference]) -> list[_Scope]:
    """Record the references at this node; return the sub-trees still to visit."""
    node = scope.node
    if node.data in ("member", "member_dot", "member_dot_arg", "member_index", "member_object"):
        return _chain(scope, references)
    return [_child(scope, c) for c in node.children if isinstance(c, Tree)]


def _chain(scope: _Scope, references: list[Reference]) -> list[_Scope]:
    """Walk a member chain (`a.b["c"].d(x)`) from its outside in, down to its base name."""
    node = scope.node
    suffix: list[str] = []  # outermost first
    pending: list[_Scope] = []
    while True:
        kind = node.data
        kids = node.children
        if kind == "member":
            node = _tree(kids[0])
        elif kind == "member_dot":
            suffix.append(str(kids[1]))
            node = _tree(kids[0])
        elif kind == "member_index":
            index = _tree(kids[1])
            literal = _string_literal(index)
            if literal is None:
                suffix = [DYNAMIC]  # what follows a computed index cannot be checked
                pending.append(_child(scope, index))
            else:
                suffix.append(literal)
            node = _tree(kids[0])
        elif kind == "member_dot_arg":
            suffix = []  # a method's result is not a field of anything
            pending += _arguments(scope, str(kids[1]), kids[2:])
            node = _tree(kids[0])
        elif kind == "member_object":
            # A message literal: its type name is not a reference, its field values are.
            return pending + [_child(scope, c) for c in kids[1:] if isinstance(c, Tree)]
        else:
            return pending + _primary(scope, node, suffix, references)


def _primary(
    scope: _Scope, node: Tree[Token], suffix: list[str], references: list[Reference]
) -> list[_Scope]:
    inner = _tree(node.children[0])
    if inner.data in ("ident", "dot_ident"):
        token = inner.children[-1]
        assert isinstance(token, Token)
        if str(token) not in scope.bound:
            path = (str(token), *reversed(suffix))
            references.append(Reference(path, token.column or 0))
        return []
    if inner.data in ("ident_arg", "dot_ident_arg"):
        return [_child(scope, c) for c in inner.children if isinstance(c, Tree)]
    return [_child(scope, inner)]


def _arguments(scope: _Scope, method: str, rest: list[Tree[Token] | Token]) -> list[_Scope]:
    """A method call's arguments; a comprehension's variable is bound inside its body."""
    args = [c for c in rest if isinstance(c, Tree)]
    exprs = [e for a in args for e in a.children if isinstance(e, Tree)]
    variable = _bare_name(exprs[0]) if method in COMPREHENSIONS and len(exprs) >= 2 else None
    if variable is None:
        return [_child(scope, e) for e in exprs]
    inside = _Scope(scope.node, scope.bound | {variable}, scope.nesting, scope.comprehensions + 1)
    return [_child(inside, e) for e in exprs[1:]]


def _tree(node: Tree[Token] | Token) -> Tree[Token]:
    assert isinstance(node, Tree), node
    return node


def _descend(node: Tree[Token]) -> Tree[Token] | Token:
    """Follow single-child precedence levels down to the node that does the work."""
    current: Tree[Token] | Token = node
    while isinstance(current, Tree) and len(current.children) == 1:
        if current.data in ("ident", "literal"):
            return current
        current = current.children[0]
    return current


def _bare_name(expr: Tree[Token]) -> str | None:
    leaf = _descend(expr)
    if isinstance(leaf, Tree) and leaf.data == "ident":
        return str(leaf.children[0])
    return None


def _string_literal(expr: Tree[Token]) -> str | None:
    leaf = _descend(expr)
    if isinstance(leaf, Tree) and leaf.data == "literal":
        token = leaf.children[0]
        if isinstance(token, Token) and token.type in ("STRING_LIT", "MLSTRING_LIT"):
            return str(celstr(token))
    return None
