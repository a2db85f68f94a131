"""The paths between a running ticket's stages: edges of every kind, and which were taken.

An edge into a stage comes from a `depends_on` entry (unconditional), a gateway's branch or
default (taken only if the gateway chose it), or a wait's `on_timeout` (taken only if the wait
timed out; the wait's other edges are taken only if its signal arrived). Dead-path elimination
reads them: a stage whose incoming edges are all decided runs if one was taken and is skipped
otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from domain.definitions import Gateway, ProcessDefinition
from domain.expressions import ExpressionError, holds, prepare

EdgeKind = Literal["depends", "branch", "default", "timeout"]
EdgeState = Literal["pending", "taken", "dead"]


@dataclass(frozen=True)
class Edge:
    """One path from a stage to another."""

    source: str
    target: str
    kind: EdgeKind


def edges(definition: ProcessDefinition) -> list[Edge]:
    """Every edge of the definition, in definition order."""
    found: list[Edge] = []
    for stage in definition.stages:
        found += [Edge(dep, stage.key, "depends") for dep in stage.depends_on]
        if stage.gateway is not None:
            found += [Edge(stage.key, b.to, "branch") for b in stage.gateway.branches]
            if stage.gateway.default is not None:
                found.append(Edge(stage.key, stage.gateway.default, "default"))
        if stage.wait is not None and stage.wait.on_timeout is not None:
            found.append(Edge(stage.key, stage.wait.on_timeout, "timeout"))
    return found


def incoming(definition: ProcessDefinition) -> dict[str, list[Edge]]:
    """The edges into each stage (roots get an empty list)."""
    into: dict[str, list[Edge]] = {s.key: [] for s in definition.stages}
    for edge in edges(definition):
        if edge.target in into and edge.source in into:
            into[edge.target].append(edge)
    return into


def downstream(definition: ProcessDefinition, roots: list[str]) -> list[str]:
    """The given stages plus every stage reachable from them, in definition order."""
    out: dict[str, list[str]] = {}
    for edge in edges(definition):
        out.setdefault(edge.source, []).append(edge.target)
    marked, todo = set(roots), list(roots)
    while todo:
        for target in out.get(todo.pop(), []):
            if target not in marked:
                marked.add(target)
                todo.append(target)
    return [s.key for s in definition.stages if s.key in marked]


def ends(definition: ProcessDefinition) -> list[str]:
    """The stages with no edge out of them."""
    sources = {e.source for e in edges(definition)}
    return [s.key for s in definition.stages if s.key not in sources]


def edge_state(edge: Edge, *, status: str, timed_out: bool, chosen: list[str] | None) -> EdgeState:
    """Whether an edge is still pending, was taken or is dead, from its source's task.

    `status` is the source task's status, `timed_out` whether the source (a wait) timed out,
    `chosen` the stages its gateway chose (None while undecided).
    """
    if status == "skipped":
        return "dead"
    if status != "done":
        return "pending"
    if edge.kind == "timeout" or timed_out:
        return "taken" if edge.kind == "timeout" and timed_out else "dead"
    if edge.kind == "depends":
        return "taken"
    if chosen is None:
        return "pending"
    return "taken" if edge.target in chosen else "dead"


@dataclass(frozen=True)
class Choice:
    """What a gateway chose: the stages taken, whether by default, and an evaluation error."""

    taken: list[str]
    default: bool
    error: str | None = None


def choose(gateway: Gateway, context: dict[str, Any]) -> Choice:
    """Decide a gateway over the expression context.

    A condition that cannot be evaluated makes the gateway take its default (or nothing), with
    the error: bad data must not stop the ticket, and the history says why.
    """
    fallback = [gateway.default] if gateway.default is not None else []
    try:
        converted = prepare(context)
        if gateway.type == "exclusive":
            first = next((b.to for b in gateway.branches if holds(b.when, converted)), None)
            matched = [first] if first is not None else []
        else:
            matched = [b.to for b in gateway.branches if holds(b.when, converted)]
    except ExpressionError as exc:
        return Choice(taken=fallback, default=True, error=str(exc))
    if matched:
        return Choice(taken=list(dict.fromkeys(matched)), default=False)
    return Choice(taken=fallback, default=True)
