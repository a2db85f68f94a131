"""Triage features are derived data: each is shown only with every field it came from."""

from __future__ import annotations

from typing import Any

import pytest

from policies.derived import feature_sources, shown_triage_result
from tests.security.views import view_of
from tests.triage.fixtures import sample_model

INTAKE: dict[str, Any] = {
    "title": "Press stops",
    "details": "hydraulic pressure drops at night",
    "error_code": "E-13",
    "channel": "phone",
    "device_snapshot": {"temperature_c": 71.5, "pressure": 3.0},
    "device": {"pressure": 2.5},
}
FORM: dict[str, Any] = {
    "type": "object",
    "properties": {
        "title": {"type": "string"},
        "details": {"type": "string", "x-sensitivity": "confidential"},
        "error_code": {"type": "string", "x-sensitivity": "restricted"},
        "channel": {"type": "string", "x-sensitivity": "public"},
        "device_snapshot": {"type": "object", "x-sensitivity": "confidential"},
        "device": {"type": "object"},
    },
}


@pytest.mark.parametrize(
    ("feature", "sources"),
    [
        ("word:hydraulic", {"title", "details"}),
        ("word:press stops", {"title", "details"}),
        ("char:dr", {"title", "details"}),
        ("field:error_code=e-13", {"error_code"}),
        ("field:channel=phone", {"channel"}),
        ("field:department=sales", {"requester"}),
        ("field:reporter_role=requester", {"requester"}),
        ("device:temperature_c", {"device_snapshot.temperature_c"}),
        ("device:pressure", {"device.pressure"}),  # the later source overrides the snapshot
        ("device:humidity", {"device_snapshot", "device"}),  # imputed: the ticket lacks it
        ("device:temperature_c_missing", {"device_snapshot", "device"}),
        ("device:live.vibration", {"outputs"}),  # the device read at creation
        ("device:live.vibration_missing", {"outputs"}),
    ],
)
def test_each_feature_maps_to_the_fields_it_was_derived_from(
    feature: str, sources: set[str]
) -> None:
    assert feature_sources(feature, INTAKE) == sources


def test_text_features_of_a_ticket_without_description_come_from_the_title() -> None:
    assert feature_sources("word:press", {"title": "Press stops"}) == {"title"}


def test_an_intake_categorical_is_its_field_and_other_names_are_unknown() -> None:
    assert feature_sources("field:department=ops", {"department": "ops"}) == {"department"}
    assert feature_sources("field:department=ops", {"department": True}) == {"requester"}
    for unknown in ("field:site=a", "field:error_code", "word:", "colour:red", "nonsense", ""):
        assert feature_sources(unknown, INTAKE) is None


def test_every_feature_of_a_trained_model_has_a_known_source() -> None:
    names = sample_model().names
    assert {name.split(":", 1)[0] for name in names} >= {"word", "char", "field"}
    # A categorical the ticket lacks adds nothing, so only a ticket with each can show it.
    every = {**INTAKE, "device_model": "c9300"}
    assert [n for n in names if feature_sources(n, every) is None] == []


RESULT: dict[str, Any] = {
    "model_version": 3,
    "team": "plant",
    "confidence": 0.61,
    "priority": "P1",
    "alternatives": [{"label": "plant", "probability": 0.61}],
    "top_features": [
        {"feature": "field:error_code=e-13", "weight": 0.9},
        {"feature": "word:hydraulic", "weight": 0.7},
        {"feature": "field:channel=phone", "weight": 0.4},
        {"feature": "device:temperature_c", "weight": 0.3},
        {"feature": "device:pressure", "weight": 0.2},
        {"feature": "mystery:thing", "weight": 0.1},
    ],
    "smuggled": "hydraulic pressure drops at night",
}


def test_a_caller_sees_only_features_of_fields_they_read() -> None:
    internal = view_of([("ticket.*", "read", "internal", "allow")], FORM)
    shown = shown_triage_result(RESULT, INTAKE, internal)
    assert [f["feature"] for f in shown["top_features"]] == [
        "field:channel=phone",
        "device:pressure",
    ]
    assert shown["team"] == "plant"
    assert shown["priority"] == "P1"
    assert "smuggled" not in shown  # an undeclared key of the answer is dropped

    confidential = view_of([("ticket.*", "read", "confidential", "allow")], FORM)
    assert [
        f["feature"] for f in shown_triage_result(RESULT, INTAKE, confidential)["top_features"]
    ] == [
        "word:hydraulic",
        "field:channel=phone",
        "device:temperature_c",
        "device:pressure",
    ]


def test_the_suggested_priority_needs_the_priority_field() -> None:
    no_priority = view_of(
        [("ticket.*", "read", "confidential", "allow"), ("ticket.priority", "*", "public", "deny")],
        FORM,
    )
    shown = shown_triage_result(RESULT, INTAKE, no_priority)
    assert "priority" not in shown
    assert shown["alternatives"] == RESULT["alternatives"]


def test_a_title_copied_from_the_summary_is_a_source_of_the_text_features() -> None:
    # Without a text title the ticket's title is the summary: the words come from it too.
    intake = {"summary": "payroll leak", "details": "salaries"}
    assert feature_sources("word:payroll", intake) == {"title", "summary", "details"}
    assert feature_sources("word:payroll", {**intake, "title": "Leak"}) == {"title", "details"}
    form = {"type": "object", "properties": {"summary": {"x-sensitivity": "restricted"}}}
    shown = shown_triage_result(
        {"top_features": [{"feature": "word:payroll", "weight": 1.0}]},
        intake,
        view_of([("ticket.*", "read", "internal", "allow")], form),
    )
    assert shown["top_features"] == []


def test_a_device_number_needs_its_own_field_not_only_its_object() -> None:
    form = {
        "type": "object",
        "properties": {
            "device": {
                "type": "object",
                "properties": {"pin": {"type": "number", "x-sensitivity": "restricted"}},
            }
        },
    }
    view = view_of([("ticket.*", "read", "internal", "allow")], form)
    result = {"top_features": [{"feature": "device:pin", "weight": 4711.0}]}
    assert shown_triage_result(result, {"device": {"pin": 4711}}, view)["top_features"] == []


def test_a_live_reading_is_shown_to_who_reads_what_automated_stages_brought_in() -> None:
    result = {
        "team": "plant",
        "top_features": [{"feature": "device:live.vibration", "weight": 0.4}],
    }
    handler = view_of([("ticket.*", "read", "confidential", "allow")], FORM)
    requester = view_of([("ticket.*", "read", "internal", "allow")], FORM)
    assert [f["feature"] for f in shown_triage_result(result, INTAKE, handler)["top_features"]] == [
        "device:live.vibration"
    ]
    assert shown_triage_result(result, INTAKE, requester)["top_features"] == []
