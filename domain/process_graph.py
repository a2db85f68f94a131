"""A definition as a graph: its stages as nodes and every kind of path between them as edges.

The publish checks walk these edges (cycles, reachability, what is upstream of what) and the
API renders them for people, so both see the same paths the workflow takes.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from domain.definitions import ProcessDefinition, StageKind
from domain.problems import pointer

EdgeType = Literal["depends_on", "branch", "default", "timeout"]


class Edge(BaseModel):
    """A path from one stage to another: unconditional, a gateway's choice or a wait's timeout."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    source: str = Field(serialization_alias="from", validation_alias="from")
    target: str = Field(serialization_alias="to", validation_alias="to")
    type: EdgeType
    when: str | None = Field(default=None, description="A branch's condition.")
    declared_at: str = Field(default="", exclude=True, description="Where the definition says so.")


class Node(BaseModel):
    """One stage as people see it: what it is, who works it, what it runs or waits for."""

    key: str
    title: str
    kind: StageKind
    group: str
    action: str | None = None
    signal: str | None = None
    definition: str | None = None
    gateway: Literal["exclusive", "inclusive"] | None = None


class ProcessGraph(BaseModel):
    """The nodes and edges of one definition."""

    nodes: list[Node]
    edges: list[Edge]


def stage_edges(definition: ProcessDefinition) -> list[Edge]:
    """Every edge the definition declares, in definition order (targets may be unknown keys)."""
    found: list[Edge] = []
    for i, stage in enumerate(definition.stages):
        for j, dep in enumerate(stage.depends_on):
            at = pointer("stages", i, "depends_on", j)
            found.append(Edge(source=dep, target=stage.key, type="depends_on", declared_at=at))
        if stage.gateway is not None:
            for j, branch in enumerate(stage.gateway.branches):
                found.append(
                    Edge(
                        source=stage.key,
                        target=branch.to,
                        type="branch",
                        when=branch.when,
                        declared_at=pointer("stages", i, "gateway", "branches", j, "to"),
                    )
                )
            if stage.gateway.default is not None:
                found.append(
                    Edge(
                        source=stage.key,
                        target=stage.gateway.default,
                        type="default",
                        declared_at=pointer("stages", i, "gateway", "default"),
                    )
                )
        if stage.wait is not None and stage.wait.on_timeout is not None:
            found.append(
                Edge(
                    source=stage.key,
                    target=stage.wait.on_timeout,
                    type="timeout",
                    declared_at=pointer("stages", i, "wait", "on_timeout"),
                )
            )
    return found


def known_edges(definition: ProcessDefinition) -> list[Edge]:
    """The edges between stages that exist and are not loops on one stage."""
    keys = {s.key for s in definition.stages}
    return [
        e
        for e in stage_edges(definition)
        if e.source in keys and e.target in keys and e.source != e.target
    ]


def successors(edges: Iterable[Edge]) -> dict[str, list[str]]:
    """Each stage's direct successors over the given edges."""
    graph: dict[str, list[str]] = {}
    for edge in edges:
        graph.setdefault(edge.source, []).append(edge.target)
    return graph


def ancestors(definition: ProcessDefinition) -> dict[str, set[str]]:
    """For each stage, every stage with a path to it over any kind of edge (cycles tolerated)."""
    parents: dict[str, set[str]] = {s.key: set() for s in definition.stages}
    for edge in known_edges(definition):
        parents[edge.target].add(edge.source)
    result: dict[str, set[str]] = {}
    for key in parents:
        seen: set[str] = set()
        todo = list(parents[key])
        while todo:
            nxt = todo.pop()
            if nxt not in seen:
                seen.add(nxt)
                todo.extend(parents[nxt])
        result[key] = seen
    return result


def process_graph(definition: ProcessDefinition) -> ProcessGraph:
    """The definition's stages and edges, for people to look at."""
    nodes = [
        Node(
            key=s.key,
            title=s.title,
            kind=s.kind,
            group=s.group,
            action=s.service.action if s.service else None,
            signal=s.wait.signal if s.wait else None,
            definition=s.subprocess.definition if s.subprocess else None,
            gateway=s.gateway.type if s.gateway else None,
        )
        for s in definition.stages
    ]
    return ProcessGraph(nodes=nodes, edges=stage_edges(definition))
