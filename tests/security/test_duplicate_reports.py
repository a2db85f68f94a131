"""What a duplicate report carries into another ticket: declared by the field it came from."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from domain.ticket import TicketState
from domain.triage import DuplicateReportInput
from domain.triage_routing import record_duplicate
from policies.event_shapes import redact_event
from services.duplicates import report_excerpt
from tests.builders import REQUESTER
from tests.security.views import view_of
from tests.triage.fixtures import support

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
FORM: dict[str, Any] = {
    "type": "object",
    "properties": {
        "title": {"type": "string"},
        "summary": {"type": "string"},
        "details": {"type": "string", "x-sensitivity": "confidential"},
        "asset_id": {"type": "string"},
        "phone": {"type": "string", "x-sensitivity": "confidential"},
    },
}


def _ticket() -> TicketState:
    return TicketState.create(
        key="SUP-1", definition=support(), intake={"title": "x"}, requester=REQUESTER, now=NOW
    )


def test_a_report_carries_the_title_and_the_description_by_their_fields_only() -> None:
    intake = {"title": "Press 4 leaks", "details": "oil under press 4", "phone": "13800001234"}
    assert report_excerpt(intake=intake) == {
        "title": "Press 4 leaks",
        "details": "oil under press 4",
    }
    # A ticket's title falls back to the summary; the report says it came from there.
    assert report_excerpt(intake={"summary": "Leak", "asset_id": "P-4"}) == {"summary": "Leak"}
    assert report_excerpt(intake={"asset_id": "P-4"}) == {}
    # Only a text title, as the ticket's: a string of an object would carry its nested
    # fields (each with a sensitivity of its own) under the title's name.
    nested = {"title": {"pin": "4711"}, "summary": "Leak"}
    assert report_excerpt(intake=nested) == {"summary": "Leak"}


def test_a_merged_report_names_the_reporter_and_its_text_fields() -> None:
    report = DuplicateReportInput(
        requester="sam",
        excerpt={"summary": "Leak", "details": "oil under press 4"},
        similarity=0.9,
        report_id="r1",
    )
    event = record_duplicate(_ticket(), report, NOW)
    assert event is not None
    assert (event.type, event.actor) == ("duplicate_reported", "triage")
    assert event.data == {
        "requester": "sam",
        "intake": {"summary": "Leak", "details": "oil under press 4"},
        "similarity": 0.9,
        "report_id": "r1",
    }


def test_a_report_from_before_excerpts_is_recorded_as_it_was() -> None:
    report = DuplicateReportInput(requester="sam", title="Leak", description="Leak\noil")
    event = record_duplicate(_ticket(), report, NOW)
    assert event is not None
    assert event.actor == "sam"
    assert set(event.data) == {"requester", "title", "description", "similarity"}


def test_a_link_carries_the_other_ticket_and_nothing_of_its_text() -> None:
    state = _ticket()
    link = DuplicateReportInput(
        requester="", related_key="SUP-9", relation="repeated_by", similarity=0.8, report_id="r"
    )
    event = record_duplicate(state, link, NOW)
    assert event is not None
    assert (event.type, event.actor) == ("possible_duplicate", "triage")
    assert event.data == {
        "related": {"ticket": "SUP-9", "relation": "repeated_by", "similarity": 0.8},
        "report_id": "r",
    }
    assert record_duplicate(state, link, NOW) is None  # the same request links once


def test_links_are_for_handlers_and_a_report_shows_by_its_fields() -> None:
    link = record_duplicate(
        _ticket(),
        DuplicateReportInput(requester="", related_key="SUP-9", relation="repeats"),
        NOW,
    )
    report = record_duplicate(
        _ticket(),
        DuplicateReportInput(requester="sam", excerpt={"title": "Leak", "details": "oil"}),
        NOW,
    )
    assert link is not None
    assert report is not None
    requester = view_of([("ticket.*", "read", "internal", "allow")], FORM)
    handler = view_of([("ticket.*", "read", "confidential", "allow")], FORM)
    events = [link.model_dump(), report.model_dump()]
    # Another requester's report and the link are for handlers: a requester sees neither.
    assert [redact_event(e, requester) for e in events] == [None, None]
    handled = [redact_event(e, handler) for e in events]
    assert handled[0] is not None
    assert handled[1] is not None
    assert handled[0]["data"]["related"]["ticket"] == "SUP-9"
    assert handled[1]["data"]["intake"] == {"title": "Leak", "details": "oil"}
