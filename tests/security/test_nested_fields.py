"""Sensitivity at every depth: catalog paths, inheritance, reads and writes of nested fields."""

from __future__ import annotations

from typing import Any

import pytest

from api.problems import ProblemError
from api.sandbox import require_definable_fields
from api.ticket_access import require_writes
from domain.ticket import Actor
from policies.access import FieldUsage
from policies.authorization import form_writes
from policies.catalog import FieldSpec, catalog_from_document
from policies.redaction import TICKET_SHAPE, denied_writes, redact, redact_form, written_fields
from tests.security.policy import access_control, view_of, with_rules

PERSON: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "id_number": {"type": "string", "x-sensitivity": "restricted"},
        "manager": {"$ref": "#/$defs/person"},
    },
}
INTAKE: dict[str, Any] = {
    "type": "object",
    "$defs": {"person": PERSON},
    "properties": {
        "title": {"type": "string", "x-sensitivity": "public"},
        "contact": {
            "type": "object",
            "x-sensitivity": "public",
            "properties": {
                "name": {"type": "string"},
                "id_number": {"type": "string", "x-sensitivity": "restricted"},
                "phone": {"type": "string", "x-sensitivity": "confidential", "x-maskable": True},
            },
            "additionalProperties": {"type": "string"},
        },
        "devices": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "serial": {"type": "string", "x-sensitivity": "confidential"},
                    "model": {"type": "string", "x-sensitivity": "public"},
                },
            },
        },
        "vault": {
            "type": "object",
            "x-sensitivity": "restricted",
            "x-maskable": True,
            "properties": {"label": {"type": "string", "x-sensitivity": "public"}},
        },
        "extra": {
            "type": "object",
            "additionalProperties": {"type": "string", "x-sensitivity": "confidential"},
        },
        "boss": {"$ref": "#/$defs/person"},
        "codes": {
            "type": "array",
            "items": {"type": "string", "x-sensitivity": "confidential", "x-maskable": True},
        },
        "either": {
            "allOf": [{"properties": {"pin": {"type": "string", "x-sensitivity": "restricted"}}}]
        },
    },
}
DOCUMENT: dict[str, Any] = {"key": "hr", "version": 1, "intake_form": INTAKE, "stages": []}
DATA: dict[str, Any] = {
    "title": "Badge broken",
    "contact": {
        "name": "Rita Roe",
        "id_number": "110101199003077777",
        "phone": "13812345678",
        "nickname": "rr",
    },
    "devices": [{"serial": "SN-000111", "model": "X1"}, {"serial": "SN-000222", "model": "X2"}],
    "vault": {"label": "blue"},
    "extra": {"anything": "undeclared-but-confidential"},
    "boss": {"name": "Bo", "id_number": "BOSS-ID-1", "manager": {"manager": {"id_number": "x"}}},
    "codes": ["CODE-12345678"],
    "either": {"pin": "4242"},
}


def test_nested_fields_are_paths_and_inherit_the_strictest_ancestor() -> None:
    catalog = catalog_from_document(DOCUMENT)
    assert catalog.spec("contact.id_number") == FieldSpec("restricted")
    assert catalog.spec("contact.phone") == FieldSpec("confidential", maskable=True)
    assert catalog.spec("contact.name") == FieldSpec("public")  # its parent's, declared none
    assert catalog.spec("devices[]") == FieldSpec("internal")
    assert catalog.spec("devices[].serial") == FieldSpec("confidential")
    # A child is never less protected than its parent, and only a leaf says it is maskable.
    assert catalog.spec("vault.label") == FieldSpec("restricted")
    assert catalog.spec("codes[]") == FieldSpec("confidential", maskable=True)
    assert catalog.spec("either.pin").sensitivity == "restricted"  # declared inside allOf
    assert catalog.spec("boss.id_number").sensitivity == "restricted"  # through $ref/$defs


def test_undeclared_keys_take_their_nearest_declared_ancestors_spec() -> None:
    catalog = catalog_from_document(DOCUMENT)
    assert catalog.spec("contact.nickname") == FieldSpec("public")
    assert catalog.spec("devices[].colour") == FieldSpec("internal")
    assert catalog.spec("extra.anything").sensitivity == "confidential"  # additionalProperties
    assert catalog.spec("vault.other") == FieldSpec("restricted")  # not maskable: undeclared
    # A recursive $ref is not expanded for ever: below it, the strictest it declares.
    assert catalog.spec("boss.manager.manager.name").sensitivity == "restricted"


def test_two_forms_declaring_one_object_settle_on_the_stricter_for_every_child() -> None:
    stage = {"properties": {"contact": {"type": "object", "x-sensitivity": "confidential"}}}
    catalog = catalog_from_document({**DOCUMENT, "stages": [{"key": "s", "form": stage}]})
    assert catalog.spec("contact").sensitivity == "confidential"
    assert catalog.spec("contact.name").sensitivity == "confidential"
    assert catalog.spec("contact.id_number").sensitivity == "restricted"


def test_a_requester_reads_no_nested_value_beyond_their_clearance(default_enforcer: Any) -> None:
    catalog = catalog_from_document(DOCUMENT)
    view = view_of(access_control(default_enforcer), "rita", catalog)
    shown = redact_form(DATA, view)
    assert shown["contact"] == {"name": "Rita Roe", "phone": "138****5678", "nickname": "rr"}
    assert shown["devices"] == [{"model": "X1"}, {"model": "X2"}]
    assert shown["codes"] == ["COD******5678"]
    assert "vault" not in shown  # maskable, but an object is never shown masked
    assert shown["extra"] == {}
    assert shown["boss"] == {"name": "Bo", "manager": {}}
    assert shown["either"] == {}


@pytest.mark.parametrize("caller", ["audrey", "dana"])
def test_handlers_and_auditors_read_confidential_but_never_restricted_nested_values(
    default_enforcer: Any, caller: str
) -> None:
    catalog = catalog_from_document(DOCUMENT)
    view = view_of(access_control(default_enforcer), caller, catalog)
    shown = redact(
        {"key": "HR-1", "intake": DATA, "tasks": [{"id": "t", "data": DATA}]}, view, TICKET_SHAPE
    )
    for data in (shown["intake"], shown["tasks"][0]["data"]):
        assert data["contact"] == {"name": "Rita Roe", "phone": "13812345678", "nickname": "rr"}
        assert data["devices"][0] == {"serial": "SN-000111", "model": "X1"}
        assert data["extra"] == {"anything": "undeclared-but-confidential"}
        assert "vault" not in data
        assert data["either"] == {}


@pytest.mark.parametrize("caller", ["owner", "monitor", "sam", "otto"])
def test_others_read_nothing_confidential_or_of_someone_elses_ticket(
    default_enforcer: Any, caller: str
) -> None:
    catalog = catalog_from_document(DOCUMENT)
    view = view_of(access_control(default_enforcer), caller, catalog)
    text = repr(redact({"key": "HR-1", "intake": DATA}, view, TICKET_SHAPE))
    for secret in ("110101199003077777", "13812345678", "SN-000111", "4242", "BOSS-ID-1"):
        assert secret not in text


def test_a_denied_parent_hides_children_a_wildcard_would_grant(default_enforcer: Any) -> None:
    deny = ("@owner", "*", "ticket.contact", "read", "public", "deny")
    enforcer = with_rules(default_enforcer, [deny])
    view = view_of(access_control(enforcer), "rita", catalog_from_document(DOCUMENT))
    assert view.allows("contact.name", "read")  # the rule names the object, not its children
    assert not view.readable("contact.name")
    assert "contact" not in redact_form(DATA, view)


def test_every_written_path_is_listed_with_its_pointer() -> None:
    written = written_fields(
        {"contact": {"id_number": "x", "a/b": 1}, "devices": [{"serial": "s"}, {"model": "m"}]}
    )
    assert written == {
        "contact": "/contact",
        "contact.id_number": "/contact/id_number",
        "contact.a/b": "/contact/a~1b",
        "devices": "/devices",
        "devices[]": "/devices/0",
        "devices[].serial": "/devices/0/serial",
        "devices[].model": "/devices/1/model",
    }


def test_a_requester_may_not_write_a_restricted_nested_field(default_enforcer: Any) -> None:
    catalog = catalog_from_document(DOCUMENT)
    view = view_of(access_control(default_enforcer), "rita", catalog)
    data = {"contact": {"name": "R", "id_number": "1101"}, "devices": [{"model": "m"}]}
    assert denied_writes(view, written_fields(data)) == ["contact.id_number"]
    with pytest.raises(ProblemError) as refused:
        require_writes(view, form_writes(data))
    assert refused.value.status == 403
    assert [p.pointer for p in refused.value.problems] == ["/data/contact/id_number"]
    # A write inside an object the caller may not write is refused with the object.
    vault = {"vault": {"label": "x"}, "devices": [{}, {"serial": "s", "pin": [{"x": 1}]}]}
    assert denied_writes(view, written_fields(vault)) == ["vault", "vault.label"]


def test_a_key_spelling_another_fields_path_is_as_strict_as_that_field(
    default_enforcer: Any,
) -> None:
    catalog = catalog_from_document(DOCUMENT)
    view = view_of(access_control(default_enforcer), "rita", catalog)
    shown = redact_form({"contact": {"id_number.x": "a"}, "contact.id_number": "b"}, view)
    assert shown == {"contact": {}}
    assert denied_writes(view, written_fields({"contact.id_number": "b"})) == ["contact.id_number"]


def test_a_process_owner_may_not_define_a_nested_field_beyond_their_clearance(
    default_enforcer: Any,
) -> None:
    cap = ("role:process_owner", "*", "ticket.*", "define", "confidential", "deny")
    access = access_control(with_rules(default_enforcer, [cap]))
    owner = Actor(user="owner", department="service-desk", role="process_owner")
    document = {**DOCUMENT, "department": "service-desk", "intake_form": {"properties": {}}}
    require_definable_fields(access, owner, document)
    nested = {"properties": {"contact": INTAKE["properties"]["contact"]}}
    with pytest.raises(ProblemError) as refused:
        require_definable_fields(access, owner, {**document, "intake_form": nested})
    assert refused.value.status == 403
    assert [(p.pointer, p.detail) for p in refused.value.problems] == [
        ("/intake_form/properties/contact", "may not define ticket.contact.id_number here"),
        ("/intake_form/properties/contact", "may not define ticket.contact.phone here"),
    ]


def test_a_written_path_too_long_to_store_is_not_counted() -> None:
    usage = FieldUsage()
    usage.wrote("requester", written_fields({"contact": {"k" * 300: 1}}))
    assert usage.drain() == {("requester", "contact", "write"): 1}
