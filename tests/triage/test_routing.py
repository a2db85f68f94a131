"""Triage transitions on the pure ticket state: what the model reads, routing, dispatching."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from domain.ticket import TaskStatus, TicketRuleError, TicketState
from domain.triage import DispatchInput, TriageResult
from domain.triage_routing import apply_triage, dispatch, triage_input
from tests.builders import REQUESTER, actor
from tests.triage.fixtures import support

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


def ticket(intake: dict[str, object], **triage: object) -> TicketState:
    definition = support()
    assert definition.triage is not None
    definition.triage = definition.triage.model_copy(update=triage)
    return TicketState.create(
        key="SUP-1", definition=definition, intake=intake, requester=REQUESTER, now=NOW
    )


def test_the_model_reads_text_known_fields_the_requester_and_device_numbers() -> None:
    state = ticket(
        {
            "title": "Press stops",
            "description": "x" * 20_000,
            "error_code": "E-13",
            "channel": "phone",
            "email": "rita@example.com",
            "device_snapshot": {"temperature_c": 71.5, "running": True, "fw": "1.2"},
        }
    )
    seen = triage_input(state)
    assert seen.title == "Press stops"
    assert len(seen.description) == 8000
    assert seen.fields == {
        "error_code": "E-13",
        "channel": "phone",
        "reporter_role": "requester",
        "department": "sales",
    }
    assert seen.numbers == {"temperature_c": 71.5}


def test_the_device_read_at_creation_gives_its_good_readings_as_live_numbers() -> None:
    state = ticket({"title": "Printer jams", "device_snapshot": {"temperature_c": 40.0}})
    state.intake_snapshot = {
        "device_id": "printer-7",
        "points": {
            "toner": {"value": 3, "unit": "%", "quality": "good"},
            "door_open": {"value": False, "unit": "", "quality": "good"},
            "jam_sensor": {"value": None, "unit": "", "quality": "bad"},
        },
    }
    assert triage_input(state).numbers == {
        "temperature_c": 40.0,
        "live.toner": 3.0,
        "live.door_open": 0.0,
    }


def test_a_ticket_without_a_device_has_no_live_numbers() -> None:
    assert triage_input(ticket({"title": "Printer jams"})).numbers == {}


def test_routed_stages_wait_with_the_dispatcher_until_triage() -> None:
    state = ticket({"title": "x"})
    assert state.tasks["handle"].group == "dispatch"
    assert state.tasks["handle"].status == TaskStatus.OPEN
    assert state.tasks["verify"].group == "dispatch"  # not routed: its own group


@pytest.mark.parametrize(
    ("result", "teams", "routed"),
    [
        (TriageResult(model_version=1, team="network", confidence=0.9), [], True),
        (TriageResult(model_version=1, team="network", confidence=0.4), [], False),
        (TriageResult(model_version=1, team="network", confidence=0.9), ["desktop"], False),
        (TriageResult(error="no trained triage model yet"), [], False),
    ],
)
def test_only_a_sure_listed_answer_routes(
    result: TriageResult, teams: list[str], routed: bool
) -> None:
    state = ticket({"title": "x"}, teams=teams)
    event, *moved = apply_triage(state, triage_input(state), result, NOW)
    assert event.data["routed"] is routed
    assert [e.type for e in moved] == (["task_routed"] if routed else [])
    assert state.tasks["handle"].group == ("network" if routed else "dispatch")


def test_dispatch_needs_the_dispatcher_group_and_an_open_routed_stage() -> None:
    state = ticket({"title": "x"})
    with pytest.raises(TicketRuleError) as refused:
        dispatch(state, DispatchInput(actor=actor("nick", "network"), team="network"), NOW)
    assert refused.value.kind == "forbidden"
    event, moved = dispatch(
        state, DispatchInput(actor=actor("dora", "dispatch"), team="network", reason="r"), NOW
    )
    assert event.data == {"team": "network", "category": None, "priority": None, "reason": "r"}
    assert moved.type == "task_routed"
    assert (moved.actor, moved.data["group"], moved.data["before"]["group"]) == (
        "dora",
        "network",
        "dispatch",
    )
    assert state.tasks["handle"].group == "network"
    # A second decision moves the work again (a correction), wherever it sits now.
    dispatch(state, DispatchInput(actor=actor("dora", "dispatch"), team="desktop"), NOW)
    assert state.tasks["handle"].group == "desktop"


def test_a_dispatcher_who_decided_first_is_not_overruled_by_a_late_model() -> None:
    state = ticket({"title": "x"})
    dispatch(state, DispatchInput(actor=actor("dora", "dispatch"), team="desktop"), NOW)
    sure = TriageResult(model_version=1, team="network", confidence=0.99)
    [event] = apply_triage(state, triage_input(state), sure, NOW)
    assert event.data["routed"] is False
    assert state.tasks["handle"].group == "desktop"
