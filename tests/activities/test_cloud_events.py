"""Ticket events as the SDK's CloudEvents: what a receiver parses from the structured body."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from cloudevents.core.bindings.http import HTTPMessage, from_http_event
from cloudevents.v1.http import from_json

from activities.cloud_events import read_structured, structured

AT = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
EVENT = {"seq": 7, "type": "task_completed", "at": AT, "data": {"task": "fix", "note": "é"}}


def test_a_ticket_event_is_a_structured_cloud_event_that_the_sdk_reads() -> None:
    body = structured("INC-000001", EVENT)
    message = HTTPMessage(headers={"content-type": "application/cloudevents+json"}, body=body)
    event = from_http_event(message)
    assert event.get_attributes() == {
        "specversion": "1.0",
        "id": "INC-000001-7",
        "source": "urn:ticketflow:tickets",
        "type": "ticketflow.ticket.task_completed",
        "subject": "INC-000001",
        "time": AT,
        "datacontenttype": "application/json",
    }
    assert event.get_data() == {
        "seq": 7,
        "type": "task_completed",
        "at": "2026-12-01T09:30:00Z",
        "data": {"task": "fix", "note": "é"},
    }
    # The older SDK API reads the same body.
    legacy = from_json(body)
    assert legacy["id"] == "INC-000001-7"
    assert legacy["subject"] == "INC-000001"
    assert json.loads(body)["time"] == "2026-12-01T09:30:00Z"


def test_every_delivery_of_one_event_has_the_same_body_and_id() -> None:
    first = structured("INC-1", {"seq": 3, "type": "created", "at": AT, "data": {}})
    again = structured("INC-1", {"seq": 3, "type": "created", "at": AT, "data": {}})
    assert first == again
    assert read_structured(first).get_id() == "INC-1-3"
    assert read_structured(structured("INC-1", {**EVENT, "seq": 4})).get_id() == "INC-1-4"
