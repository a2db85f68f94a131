"""Notifications are rendered per reader: no ticket field in what is stored, each one shown
only to readers who may read it, and nothing about tickets a reader cannot see."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from domain.notifications import NotificationParts
from domain.sla_clocks import fire_due, sync_clocks
from domain.ticket import TicketState
from policies.notifications import Stored, render_notification
from tests.builders import REQUESTER, incident
from tests.security.views import view_of

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
TITLE = "Payroll server leaks salaries"
SLA: dict[str, Any] = {
    "target": "PT1H",
    "ladder": [
        {
            "name": "due",
            "at_fraction": 1.0,
            "actions": [
                {"type": "notify", "recipients": ["group:sales", "role:manager"]},
                {"type": "escalate", "group": "cto-office"},
                {"type": "reassign", "group": "ops"},
                {"type": "raise_priority"},
            ],
        }
    ],
}
FORM: dict[str, Any] = {"type": "object", "properties": {"title": {"type": "string"}}}
EVERYTHING = view_of([("ticket.*", "read", "internal", "allow")], FORM)
NO_TITLE = view_of(
    [("ticket.*", "read", "internal", "allow"), ("ticket.title", "read", "public", "deny")], FORM
)
NO_SLA = view_of(
    [("ticket.*", "read", "internal", "allow"), ("ticket.sla", "read", "public", "deny")], FORM
)
NOTHING = view_of([], FORM)
TICKET = {"title": TITLE}


def test_a_fired_rung_stores_parts_and_no_ticket_field_anywhere_it_writes() -> None:
    definition = incident(sla=SLA)
    state = TicketState.create(
        key="INC-1", definition=definition, intake={"title": TITLE}, requester=REQUESTER, now=NOW
    )
    sync_clocks(state, NOW)
    firing = fire_due(state, NOW + timedelta(hours=1))
    [batch] = firing.notifications
    assert [n.recipient for n in batch.notifications] == [
        "group:sales",
        "role:manager",
        "group:cto-office",
    ]
    for notification in batch.notifications:
        assert notification.parts == NotificationParts(
            clock="ticket", stage=None, rung=0, rung_name="due", mentions=["title"]
        )
        assert notification.subject == "INC-1: SLA due reached on the ticket"
    # Event reasons and the follow-up task's title reach people who may not read the title.
    written = json.dumps([e.model_dump(mode="json") for e in firing.events])
    written += json.dumps([t.model_dump(mode="json") for t in state.tasks.values()])
    assert TITLE not in written


def _stored(parts: NotificationParts | None, subject: str = "") -> Stored:
    return Stored(
        ticket_key="INC-1",
        subject=subject or "INC-1: SLA due reached on the ticket",
        body="ticket rung 0",
        parts=parts.model_dump() if parts else None,
    )


PARTS = NotificationParts(clock="ticket", rung=0, rung_name="due", mentions=["title"])


def test_each_reader_gets_the_text_their_view_allows() -> None:
    full = render_notification(_stored(PARTS), EVERYTHING, TICKET)
    assert full is not None
    assert full.subject == f"INC-1: SLA due reached on the ticket ({TITLE})"
    assert full.body == "ticket rung 0"
    untitled = render_notification(_stored(PARTS), NO_TITLE, TICKET)
    assert untitled is not None
    assert untitled.subject == "INC-1: SLA due reached on the ticket"


def test_readers_who_cannot_see_the_ticket_or_its_sla_get_nothing() -> None:
    assert render_notification(_stored(PARTS), NOTHING, TICKET) is None
    assert render_notification(_stored(PARTS), NO_SLA, TICKET) is None
    unknown = PARTS.model_copy(update={"kind": "webhook_digest"})
    assert render_notification(_stored(unknown), EVERYTHING, TICKET) is None


def test_a_notification_from_before_parts_loses_its_title_for_those_denied_it() -> None:
    subject = f"INC-1: SLA due reached on the ticket ({TITLE})"
    shown = render_notification(_stored(None, subject), NO_TITLE, TICKET)
    assert shown is not None
    assert shown.subject == "INC-1: SLA due reached on the ticket"
    cut = render_notification(_stored(None, subject[:40]), NO_TITLE, TICKET)
    assert cut is not None
    assert cut.subject == "INC-1: SLA notification"
    kept = render_notification(_stored(None, subject), EVERYTHING, TICKET)
    assert kept is not None
    assert kept.subject == subject


def test_a_title_copied_from_the_summary_is_shown_only_with_the_summary() -> None:
    form = {"type": "object", "properties": {"summary": {"x-sensitivity": "restricted"}}}
    view = view_of([("ticket.*", "read", "internal", "allow")], form)
    titled = render_notification(_stored(PARTS), view, TICKET)
    assert titled is not None
    assert titled.subject == "INC-1: SLA due reached on the ticket"
    subject = f"INC-1: SLA due reached on the ticket ({TITLE})"
    older = render_notification(_stored(None, subject), view, TICKET)
    assert older is not None
    assert TITLE not in older.subject
