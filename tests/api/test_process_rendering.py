"""Drawing a process graph: labels are text, whatever a title holds (no server needed)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import get_args

from hypothesis import given
from hypothesis import strategies as st

from api.process_rendering import DOT_SHAPES, MERMAID_SHAPES, mermaid_text, svg
from domain.definitions import StageKind
from domain.process_graph import Edge, Node, ProcessGraph
from tests.api.helpers import NEEDS_DOT

MERMAID_SYNTAX = set('"<>[]{}|`\n\r')


@given(st.text(max_size=200))
def test_a_mermaid_label_holds_no_syntax_and_decodes_back(text: str) -> None:
    escaped = mermaid_text(text)
    assert not set(escaped) & MERMAID_SYNTAX
    decoded = re.sub(r"#(\d+);", lambda m: chr(int(m.group(1))), escaped)
    assert decoded == text.replace("\r", " ").replace("\n", " ")


@NEEDS_DOT
@given(st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=80))
async def test_svg_text_is_the_title_itself(title: str) -> None:
    graph = ProcessGraph(
        nodes=[
            Node(key="a", title=title, kind="task", group="g"),
            Node(key="b", title="B", kind="timer", group="g"),
        ],
        edges=[Edge(source="a", target="b", type="branch", when=title)],
    )
    tree = ET.fromstring(await svg(graph))
    texts = [t.text or "" for t in tree.iter() if t.tag.endswith("text")]
    # dot lays out each line alone and trims its ends; the words are all there, as text.
    assert " ".join(title.split()) in {" ".join(t.split()) for t in texts}


def test_each_kind_has_a_shape() -> None:
    assert set(DOT_SHAPES) == set(MERMAID_SHAPES) == set(get_args(StageKind))
