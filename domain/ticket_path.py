"""The path one ticket took through its definition's graph: each stage and each edge marked.

A stage is marked with its latest round's task status (and why it was skipped); an edge is
`taken`, `not_taken` or `pending`, read the way dead-path elimination reads it
(domain.process_paths.edge_state), so the picture and the workflow never disagree.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from domain.definitions import ProcessDefinition
from domain.process_graph import Edge, Node, process_graph
from domain.process_paths import Edge as PathEdgeRef
from domain.process_paths import EdgeKind, edge_state

EdgeMark = Literal["taken", "not_taken", "pending"]
_KINDS: dict[str, EdgeKind] = {
    "depends_on": "depends",
    "branch": "branch",
    "default": "default",
    "timeout": "timeout",
}
_MARKS: dict[str, EdgeMark] = {"taken": "taken", "dead": "not_taken", "pending": "pending"}


class StageRun(BaseModel):
    """What a stage's latest round did: its status, its gateway's choice, a wait's timeout."""

    status: str = "pending"
    round: int = 1
    chosen: list[str] | None = None
    timed_out: bool = False
    reason: str | None = Field(default=None, description="Why the stage was skipped.")


class PathNode(Node):
    """A stage and how far this ticket got with it."""

    status: str
    round: int
    reason: str | None = None


class PathEdge(Edge):
    """An edge and whether this ticket took it."""

    state: EdgeMark


class TicketPath(BaseModel):
    """The definition's graph, marked with this ticket's path."""

    key: str
    nodes: list[PathNode]
    edges: list[PathEdge]


def ticket_path(key: str, definition: ProcessDefinition, runs: dict[str, StageRun]) -> TicketPath:
    """Mark each stage and edge of the definition by what this ticket's stages did."""
    graph = process_graph(definition)
    nodes = [
        PathNode(
            **node.model_dump(),
            status=runs.get(node.key, StageRun()).status,
            round=runs.get(node.key, StageRun()).round,
            reason=runs.get(node.key, StageRun()).reason,
        )
        for node in graph.nodes
    ]
    edges = []
    for edge in graph.edges:
        source = runs.get(edge.source, StageRun())
        state = edge_state(
            PathEdgeRef(edge.source, edge.target, _KINDS[edge.type]),
            status=source.status,
            timed_out=source.timed_out,
            chosen=source.chosen,
        )
        edges.append(PathEdge(**edge.model_dump(), state=_MARKS[state]))
    return TicketPath(key=key, nodes=nodes, edges=edges)
