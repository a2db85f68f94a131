"""Inbound connectors: the mapping of an event by JSON pointers, and connector settings."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from pydantic import ValidationError

from domain.inbound import MAX_CORRELATION, Connector, filing_key, signal_id
from domain.problems import Problem, Rejected
from services.inbound import event_problems, map_event
from ticketflow.settings import Settings

SECRET = "whsec_" + base64.b64encode(bytes(range(32))).decode()
CRM = Connector(
    name="crm",
    definition="incident",
    secret=SECRET,  # type: ignore[arg-type]
    correlation="/case/id",
    fields={"title": "/case/subject", "site": "/case/a~1b", "first": "/tags/0"},
)


def _case(**case: Any) -> dict[str, Any]:
    return {"case": {"id": "C-1", "subject": "Late", "a/b": "Berlin", **case}, "tags": ["x"]}


def test_an_event_maps_to_its_correlation_key_and_intake() -> None:
    mapped = map_event(CRM, _case())
    assert mapped.correlation == "C-1"
    assert mapped.intake == {"title": "Late", "site": "Berlin", "first": "x"}
    assert map_event(CRM, _case(id=4711)).correlation == "4711"


@pytest.mark.parametrize(
    ("document", "pointers"),
    [
        ({"case": {"subject": "Late", "a/b": "B"}, "tags": ["x"]}, {"/case/id"}),
        ({"case": {"id": "C-1"}, "tags": []}, {"/case/subject", "/case/a~1b", "/tags/0"}),
        (_case(id=True), {"/case/id"}),
        (_case(id=None), {"/case/id"}),
        (_case(id=""), {"/case/id"}),
        (_case(id={"n": 1}), {"/case/id"}),
        (_case(id="x" * (MAX_CORRELATION + 1)), {"/case/id"}),
        ({"case": "flat", "tags": "flat"}, {"/case/id", "/case/subject", "/case/a~1b", "/tags/0"}),
        ([1, 2], {""}),
        ("text", {""}),
    ],
)
def test_what_does_not_map_is_refused_at_its_pointer(document: Any, pointers: set[str]) -> None:
    with pytest.raises(Rejected) as caught:
        map_event(CRM, document)
    assert {p.pointer for p in caught.value.problems} == pointers


def test_the_forms_problems_point_into_the_event() -> None:
    problems = [
        Problem(pointer="/data/title", detail="too short"),
        Problem(pointer="/data", detail="missing 'email'"),
    ]
    shown = event_problems(CRM, problems)
    assert [(p.pointer, p.detail) for p in shown] == [
        ("/case/subject", "intake field 'title': too short"),
        ("/data", "missing 'email'"),
    ]


def test_one_event_id_files_and_signals_under_one_id() -> None:
    assert filing_key("crm", "e-1") == filing_key("crm", "e-1") != filing_key("crm", "e-2")
    assert signal_id("crm", "e-1") != signal_id("erp", "e-1")
    assert len(filing_key("x" * 63, "e" * 120)) <= 200


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"name": "CRM"}, "connector name"),
        ({"name": "1crm"}, "connector name"),
        ({"secret": "hunter2"}, "whsec_"),
        ({"correlation": "case/id"}, "JSON pointer"),
        ({"fields": {"title": "subject"}}, "JSON pointer"),
        ({"fields": {"title": "/a~2"}}, "JSON pointer"),
        ({"unknown": 1}, "extra"),
    ],
)
def test_bad_connectors_stop_the_settings(change: dict[str, Any], message: str) -> None:
    entry = {**CRM.model_dump(), "secret": SECRET, **change}
    with pytest.raises(ValidationError, match=message):
        Settings(connectors=[entry])


def test_connector_names_are_unique_and_the_mqtt_url_names_a_broker() -> None:
    entry = {**CRM.model_dump(), "secret": SECRET}
    with pytest.raises(ValidationError, match="given twice"):
        Settings(connectors=[entry, entry])
    assert Settings(connectors=[entry]).connectors[0].key() == bytes(range(32))
    for url in ("http://127.0.0.1:1883", "mqtt://", "mqtt://host/path"):
        with pytest.raises(ValidationError, match="mqtt_url"):
            Settings(mqtt_url=url)
    assert Settings(mqtt_url="mqtts://u:p@broker:8883").mqtt_url is not None
