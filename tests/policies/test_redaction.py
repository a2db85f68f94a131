"""The redaction function: absent when denied, masked when maskable, unknown keys dropped."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from policies.access import AccessControl, ticket_domains
from policies.catalog import catalog_from_document
from policies.decisions import Subject
from policies.enforcer import file_enforcer
from policies.event_shapes import redact_event
from policies.redaction import TICKET_SHAPE, FieldView, denied_writes, mask, redact

POLICY = Path(__file__).with_name("truth_policy.csv")
DOCUMENT = {
    "key": "hr",
    "version": 1,
    "intake_form": {
        "properties": {
            "title": {"type": "string", "x-sensitivity": "public"},
            "notes": {"type": "string"},
            "phone": {"type": "string", "x-sensitivity": "confidential", "x-maskable": True},
            "salary": {"type": "number", "x-sensitivity": "restricted"},
            "odd": {"type": "string", "x-sensitivity": "secret-ish"},
        }
    },
    "stages": [
        {
            "key": "a",
            "form": {"properties": {"phone": {"x-sensitivity": "internal", "x-maskable": True}}},
        }
    ],
}
TICKET: dict[str, Any] = {
    "key": "HR-1",
    "title": "Pay",
    "status": "open",
    "requester": "rita",
    "a_new_column": "must not leak",
    "intake": {"title": "Pay", "notes": "n", "phone": "13812345678", "salary": 9000, "odd": "o"},
    "tasks": [{"id": "t", "assignee": "dana", "data": {"salary": 1}, "status": "open"}],
}


def _view(user: str, role: str, home: str, *, owner: bool) -> FieldView:
    access = AccessControl()
    access.install(file_enforcer(POLICY), version=1)
    catalog = catalog_from_document(DOCUMENT)
    subject = Subject(user=user, role=role, home=home, owner=owner)
    return access.view(subject, ticket_domains("hr", TICKET["intake"]), catalog)


def test_mask_keeps_the_ends_of_long_values() -> None:
    assert mask("13812345678") == "138****5678"
    assert mask("short") == "*****"
    assert mask(12345678) == "123*5678"


def test_catalog_takes_the_stricter_declaration_and_distrusts_unknown_labels() -> None:
    catalog = catalog_from_document(DOCUMENT)
    assert catalog.spec("phone").sensitivity == "confidential"
    assert catalog.spec("odd").sensitivity == "restricted"
    assert catalog.spec("undeclared").sensitivity == "internal"


def test_requester_sees_own_public_and_internal_fields_and_a_masked_phone() -> None:
    view = _view("rita", "requester", "sales", owner=True)
    out = redact(TICKET, view, TICKET_SHAPE)
    assert out["intake"] == {"title": "Pay", "notes": "n", "phone": "138****5678"}
    assert "a_new_column" not in out
    assert out["tasks"] == [{"id": "t", "assignee": "dana", "data": {}, "status": "open"}]


def test_hr_lead_reads_everything_and_auditor_never_salary() -> None:
    hana = redact(TICKET, _view("hana", "requester", "x", owner=False), TICKET_SHAPE)
    assert hana["intake"] == TICKET["intake"]
    audrey = _view("audrey", "auditor", "audit", owner=False)
    out = redact(TICKET, audrey, TICKET_SHAPE)
    assert set(out["intake"]) == {"title", "notes", "phone"}
    assert denied_writes(audrey, ["title", "salary"]) == ["salary", "title"]


def test_event_data_is_redacted_wherever_form_fields_appear() -> None:
    event = {
        "seq": 3,
        "type": "task_completed",
        "at": "2026-01-01T00:00:00Z",
        "actor": "dana",
        "data": {"stage": "a", "assignee": "dana", "form": {"salary": 1, "notes": "x"}},
    }
    out = redact_event(event, _view("rita", "requester", "s", owner=True))
    assert out is not None
    assert out["data"] == {"stage": "a", "assignee": "dana", "form": {"notes": "x"}}


def test_someone_elses_ticket_is_invisible() -> None:
    assert not _view("rita", "requester", "sales", owner=False).visible()
