"""A ticket's path keeps every round: a reopened ticket shows the way it went before."""

from __future__ import annotations

from api.process_rendering import dot_source, mermaid
from domain.ticket_path import StageRun, ticket_path
from tests.domain.processes import exclusive, process, stage

ROUTED = process(
    stage("sort", gateway=exclusive(("visit", "stages.sort.data.visit"), default="mail")),
    stage("visit"),
    stage("mail"),
    stage("report", depends_on=["visit", "mail"]),
)
FIRST_ROUND = {
    "sort": [StageRun(status="done", chosen=["mail"])],
    "visit": [StageRun(status="skipped", reason="the gateway of sort chose mail")],
    "mail": [StageRun(status="done")],
    "report": [StageRun(status="done")],
}
REOPENED = {
    "sort": [*FIRST_ROUND["sort"], StageRun(status="done", round=2, chosen=["visit"])],
    "visit": [*FIRST_ROUND["visit"], StageRun(status="open", round=2)],
    "mail": [*FIRST_ROUND["mail"], StageRun(status="skipped", round=2)],
    "report": [*FIRST_ROUND["report"], StageRun(status="pending", round=2)],
}


def marks(runs: dict[str, list[StageRun]]) -> dict[tuple[str, str], tuple[str, list[int]]]:
    path = ticket_path("FLOW-1", ROUTED, runs)
    return {(e.source, e.target): (e.state, e.taken_in) for e in path.edges}


def test_one_round_marks_the_edges_it_took() -> None:
    assert marks(FIRST_ROUND) == {
        ("sort", "visit"): ("not_taken", []),
        ("sort", "mail"): ("taken", [1]),
        ("visit", "report"): ("not_taken", []),
        ("mail", "report"): ("taken", [1]),
    }


def test_a_reopened_ticket_marks_its_latest_round_and_names_the_earlier_ones() -> None:
    assert marks(REOPENED) == {
        ("sort", "visit"): ("taken", [2]),
        ("sort", "mail"): ("not_taken", [1]),
        ("visit", "report"): ("pending", []),
        ("mail", "report"): ("not_taken", [1]),
    }
    nodes = {n.key: n for n in ticket_path("FLOW-1", ROUTED, REOPENED).nodes}
    assert (nodes["visit"].status, nodes["visit"].round) == ("open", 2)
    assert [r.status for r in nodes["visit"].rounds] == ["skipped", "open"]
    assert nodes["visit"].reason is None  # its latest round was not skipped


def test_a_stage_that_never_started_is_pending_with_no_rounds() -> None:
    nodes = {n.key: n for n in ticket_path("FLOW-1", ROUTED, {}).nodes}
    assert (nodes["report"].status, nodes["report"].rounds) == ("pending", [])


def test_drawings_show_an_earlier_round_dotted_and_labelled() -> None:
    path = ticket_path("FLOW-1", ROUTED, REOPENED)
    drawn = mermaid(path)
    assert "default (taken in round 1)" in drawn
    assert "stroke-dasharray:2 4" in drawn
    assert "style=dotted" in dot_source(path)
    assert "taken in round" not in mermaid(ticket_path("FLOW-1", ROUTED, FIRST_ROUND))
