"""A process graph drawn for people: Mermaid text, or SVG laid out by Graphviz's `dot`.

Titles and conditions are user input: in Mermaid every character that could end a label or
start markup is written as an entity code; in DOT the graphviz package quotes each label as
plain text (never an HTML label) and backslashes are doubled so no escape sequence survives,
and `dot` writes them into the SVG as XML text.
"""

from __future__ import annotations

import asyncio
import shutil

import graphviz
from fastapi import Response
from fastapi.responses import JSONResponse

from api.problems import ProblemError
from domain.process_graph import Edge, Node, ProcessGraph
from domain.ticket_path import PathEdge, PathNode, TicketPath

SVG_TIMEOUT_SECONDS = 10.0
# Mermaid shapes per stage kind: (opening, closing) around the quoted label.
MERMAID_SHAPES = {
    "task": ("[", "]"),
    "service": ("([", "])"),
    "wait": (">", "]"),
    "timer": ("((", "))"),
    "subprocess": ("[[", "]]"),
}
DOT_SHAPES = {
    "task": {"shape": "box", "style": "rounded"},
    "service": {"shape": "box", "style": "rounded,filled", "fillcolor": "#e8f0fe"},
    "wait": {"shape": "cds"},
    "timer": {"shape": "ellipse", "peripheries": "2"},
    "subprocess": {"shape": "box", "peripheries": "2"},
}
MERMAID_ARROWS = {"depends_on": "-->", "branch": "-->", "default": "-.->", "timeout": "-.->"}
DOT_STYLES = {"depends_on": "solid", "branch": "solid", "default": "dashed", "timeout": "dotted"}
# A ticket's path: stage fill by status, edge stroke by whether it was taken.
STATUS_COLOURS = {
    "done": "#d4edda",
    "running": "#fff3cd",
    "open": "#cfe2ff",
    "claimed": "#cfe2ff",
    "skipped": "#eeeeee",
    "cancelled": "#f8d7da",
    "pending": "#ffffff",
}
# `earlier`: an edge an earlier round took and the latest did not (a reopened ticket's path).
EARLIER = "earlier"
EDGE_MARKS = {
    "taken": {"color": "#1e7e34", "penwidth": "2.5"},
    EARLIER: {"color": "#1e7e34", "style": "dotted"},
    "not_taken": {"color": "#aaaaaa", "style": "dashed"},
    "pending": {"color": "#666666"},
}
MERMAID_EDGE_MARKS = {
    "taken": "stroke:#1e7e34,stroke-width:3px",
    EARLIER: "stroke:#1e7e34,stroke-dasharray:2 4",
    "not_taken": "stroke:#aaaaaa,stroke-dasharray:4 4",
    "pending": "stroke:#666666",
}
Drawable = ProcessGraph | TicketPath
# Characters written as themselves in a Mermaid label; every other one as `#<code>;`.
MERMAID_PLAIN = frozenset(" _.,:-/()+*=!?@%")


class RenderingUnavailable(Exception):
    """SVG needs Graphviz's `dot`, which is missing or did not finish in time."""


def _detail(node: Node) -> str:
    """The second line of a node's label: what it runs, waits for or starts."""
    what = {
        "service": node.action,
        "wait": node.signal and f"signal {node.signal}",
        "subprocess": node.definition,
    }.get(node.kind)
    parts = [node.kind if what is None else f"{node.kind}: {what}", node.group]
    if node.gateway is not None:
        parts.append(f"{node.gateway} gateway")
    return " · ".join(parts)


def _lines(node: Node) -> list[str]:
    """A node's label lines: its title, what it is, and on a ticket's path how far it got."""
    lines = [node.title, _detail(node)]
    if isinstance(node, PathNode):
        lines.append(node.status if node.round == 1 else f"{node.status} (round {node.round})")
    return lines


def _edge_label(edge: Edge) -> str | None:
    label = None
    if edge.type == "branch":
        label = edge.when
    elif edge.type in ("default", "timeout"):
        label = edge.type
    # A reopened ticket's edges say which rounds took them, unless only the latest did.
    if isinstance(edge, PathEdge) and (
        len(edge.taken_in) > 1 or (edge.taken_in and edge.state != "taken")
    ):
        rounds = ", ".join(str(r) for r in edge.taken_in)
        taken = f"taken in round {rounds}" if len(edge.taken_in) == 1 else f"rounds {rounds}"
        label = taken if label is None else f"{label} ({taken})"
    return label


def _edge_mark(edge: PathEdge) -> str:
    """How a path's edge is drawn: as its latest round marks it, or as taken before."""
    return EARLIER if edge.state != "taken" and edge.taken_in else edge.state


def mermaid_text(text: str) -> str:
    """Text safe inside a quoted Mermaid label: entity codes for all but plain characters."""
    return "".join(
        c if (c.isalnum() and c.isprintable()) or c in MERMAID_PLAIN else f"#{ord(c)};"
        for c in text.replace("\r", " ").replace("\n", " ")
    )


def mermaid(graph: Drawable) -> str:
    """The graph as a Mermaid flowchart, top to bottom (a ticket's path styled by its marks)."""
    ids = {node.key: f"n{i}" for i, node in enumerate(graph.nodes)}
    lines = ["flowchart TD"]
    for node in graph.nodes:
        opening, closing = MERMAID_SHAPES[node.kind]
        label = "<br/>".join(mermaid_text(line) for line in _lines(node))
        lines.append(f'    {ids[node.key]}{opening}"{label}"{closing}')
    drawn = 0
    for edge in graph.edges:
        if edge.source not in ids or edge.target not in ids:
            continue
        arrow = MERMAID_ARROWS[edge.type]
        text = _edge_label(edge)
        middle = arrow if text is None else f'{arrow}|"{mermaid_text(text)}"|'
        lines.append(f"    {ids[edge.source]} {middle} {ids[edge.target]}")
        if isinstance(edge, PathEdge):
            lines.append(f"    linkStyle {drawn} {MERMAID_EDGE_MARKS[_edge_mark(edge)]}")
        drawn += 1
    statuses = sorted({n.status for n in graph.nodes if isinstance(n, PathNode)})
    for status in statuses:
        fill = STATUS_COLOURS.get(status, "#ffffff")
        lines.append(f"    classDef {status} fill:{fill}")
        members = ",".join(ids[n.key] for n in graph.nodes if getattr(n, "status", None) == status)
        lines.append(f"    class {members} {status}")
    return "\n".join(lines) + "\n"


def _dot_text(*lines: str) -> str:
    """Lines of plain text as one DOT label: backslashes doubled, never an HTML label."""
    label: str = graphviz.nohtml(r"\n".join(str(graphviz.escape(line)) for line in lines))
    return label


def _node_style(node: Node) -> dict[str, str]:
    style = dict(DOT_SHAPES[node.kind])
    if isinstance(node, PathNode):
        kept = [s for s in style.get("style", "").split(",") if s and s != "filled"]
        style["style"] = ",".join([*kept, "filled"])
        style["fillcolor"] = STATUS_COLOURS.get(node.status, "#ffffff")
    return style


def dot_source(graph: Drawable) -> str:
    """The graph in Graphviz's DOT language."""
    # The graph's name would land in an SVG comment: ours, never a user's title.
    dot = graphviz.Digraph(name="process")
    dot.attr(rankdir="TB")
    dot.attr("node", fontname="Helvetica", fontsize="11")
    dot.attr("edge", fontname="Helvetica", fontsize="9")
    ids = {node.key: f"n{i}" for i, node in enumerate(graph.nodes)}
    for node in graph.nodes:
        dot.node(ids[node.key], label=_dot_text(*_lines(node)), **_node_style(node))
    for edge in graph.edges:
        if edge.source not in ids or edge.target not in ids:
            continue
        label = _edge_label(edge)
        extra = {} if label is None else {"label": _dot_text(label)}
        extra["style"] = DOT_STYLES[edge.type]
        if isinstance(edge, PathEdge):
            extra.update(EDGE_MARKS[_edge_mark(edge)])
        dot.edge(ids[edge.source], ids[edge.target], **extra)
    source: str = dot.source
    return source


async def svg(graph: Drawable) -> bytes:
    """The graph laid out by `dot` as SVG; RenderingUnavailable without Graphviz."""
    executable = shutil.which("dot")
    if executable is None:
        raise RenderingUnavailable("Graphviz's dot is not installed on this server")
    process = await asyncio.create_subprocess_exec(
        executable,
        "-Tsvg",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(
            process.communicate(dot_source(graph).encode()), SVG_TIMEOUT_SECONDS
        )
    except TimeoutError:
        process.kill()
        await process.wait()
        raise RenderingUnavailable("the layout took too long") from None
    if process.returncode != 0:
        raise RenderingUnavailable(err.decode(errors="replace").strip() or "dot failed")
    return out


async def graph_response(graph: Drawable, format: str) -> Response:
    """The graph as JSON (nodes and edges), Mermaid text or SVG; 503 when SVG cannot be drawn."""
    if format == "mermaid":
        return Response(mermaid(graph), media_type="text/plain; charset=utf-8")
    if format == "svg":
        try:
            return Response(await svg(graph), media_type="image/svg+xml")
        except RenderingUnavailable as exc:
            raise ProblemError(503, f"cannot draw SVG: {exc}") from exc
    return JSONResponse(graph.model_dump(mode="json", by_alias=True, exclude_none=True))
