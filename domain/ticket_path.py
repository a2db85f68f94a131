"""The path one ticket took through its definition's graph: each stage and each edge marked.

A stage is marked with its latest round's task status (and why it was skipped), and keeps
every round it ran; an edge is `taken`, `not_taken` or `pending` in its source's latest round,
read the way dead-path elimination reads it (domain.process_paths.edge_state), so the picture
and the workflow never disagree, and names each round of its source that took it. A reopened
ticket's earlier paths therefore stay visible beside the one it takes now.
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
    """What one round of a stage did: its status, its gateway's choice, a wait's timeout."""

    status: str = "pending"
    round: int = 1
    chosen: list[str] | None = None
    timed_out: bool = False
    reason: str | None = Field(default=None, description="Why the stage was skipped.")


class PathNode(Node):
    """A stage and how far this ticket got with it (its latest round), and every round."""

    status: str
    round: int
    reason: str | None = None
    rounds: list[StageRun] = Field(default_factory=list, description="Oldest first.")


class PathEdge(Edge):
    """An edge, whether its source's latest round took it, and which rounds did."""

    state: EdgeMark
    taken_in: list[int] = Field(
        default_factory=list, description="The rounds of the source stage that took it."
    )


class TicketPath(BaseModel):
    """The definition's graph, marked with this ticket's path."""

    key: str
    nodes: list[PathNode]
    edges: list[PathEdge]


def ticket_path(
    key: str, definition: ProcessDefinition, runs: dict[str, list[StageRun]]
) -> TicketPath:
    """Mark each stage and edge of the definition by what this ticket's stages did.

    `runs` holds each stage's rounds, oldest first; a stage without one has not started.
    """
    graph = process_graph(definition)
    rounds = {node.key: runs.get(node.key) or [StageRun()] for node in graph.nodes}
    nodes = [
        PathNode(
            **node.model_dump(),
            status=rounds[node.key][-1].status,
            round=rounds[node.key][-1].round,
            reason=rounds[node.key][-1].reason,
            rounds=runs.get(node.key, []),
        )
        for node in graph.nodes
    ]
    edges = []
    for edge in graph.edges:
        ref = PathEdgeRef(edge.source, edge.target, _KINDS[edge.type])
        marks = [(run.round, _mark(ref, run)) for run in rounds.get(edge.source, [StageRun()])]
        edges.append(
            PathEdge(
                **edge.model_dump(),
                state=marks[-1][1],
                taken_in=[number for number, mark in marks if mark == "taken"],
            )
        )
    return TicketPath(key=key, nodes=nodes, edges=edges)


def _mark(edge: PathEdgeRef, run: StageRun) -> EdgeMark:
    state = edge_state(edge, status=run.status, timed_out=run.timed_out, chosen=run.chosen)
    return _MARKS[state]
