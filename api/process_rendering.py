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

from domain.process_graph import Edge, Node, ProcessGraph

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


def _edge_label(edge: Edge) -> str | None:
    if edge.type == "branch":
        return edge.when
    if edge.type in ("default", "timeout"):
        return edge.type
    return None


def mermaid_text(text: str) -> str:
    """Text safe inside a quoted Mermaid label: entity codes for all but plain characters."""
    return "".join(
        c if (c.isalnum() and c.isprintable()) or c in MERMAID_PLAIN else f"#{ord(c)};"
        for c in text.replace("\r", " ").replace("\n", " ")
    )


def mermaid(graph: ProcessGraph) -> str:
    """The graph as a Mermaid flowchart, top to bottom."""
    ids = {node.key: f"n{i}" for i, node in enumerate(graph.nodes)}
    lines = ["flowchart TD"]
    for node in graph.nodes:
        opening, closing = MERMAID_SHAPES[node.kind]
        label = f"{mermaid_text(node.title)}<br/>{mermaid_text(_detail(node))}"
        lines.append(f'    {ids[node.key]}{opening}"{label}"{closing}')
    for edge in graph.edges:
        if edge.source not in ids or edge.target not in ids:
            continue
        arrow = MERMAID_ARROWS[edge.type]
        text = _edge_label(edge)
        middle = arrow if text is None else f'{arrow}|"{mermaid_text(text)}"|'
        lines.append(f"    {ids[edge.source]} {middle} {ids[edge.target]}")
    return "\n".join(lines) + "\n"


def _dot_text(*lines: str) -> str:
    """Lines of plain text as one DOT label: backslashes doubled, never an HTML label."""
    label: str = graphviz.nohtml(r"\n".join(str(graphviz.escape(line)) for line in lines))
    return label


def dot_source(graph: ProcessGraph) -> str:
    """The graph in Graphviz's DOT language."""
    # The graph's name would land in an SVG comment: ours, never a user's title.
    dot = graphviz.Digraph(name="process")
    dot.attr(rankdir="TB")
    dot.attr("node", fontname="Helvetica", fontsize="11")
    dot.attr("edge", fontname="Helvetica", fontsize="9")
    ids = {node.key: f"n{i}" for i, node in enumerate(graph.nodes)}
    for node in graph.nodes:
        dot.node(ids[node.key], label=_dot_text(node.title, _detail(node)), **DOT_SHAPES[node.kind])
    for edge in graph.edges:
        if edge.source not in ids or edge.target not in ids:
            continue
        label = _edge_label(edge)
        extra = {} if label is None else {"label": _dot_text(label)}
        dot.edge(ids[edge.source], ids[edge.target], style=DOT_STYLES[edge.type], **extra)
    source: str = dot.source
    return source


async def svg(graph: ProcessGraph) -> bytes:
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
