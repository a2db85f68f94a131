"""What-if: recorded clocks re-run on another policy or calendar, as tables."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from domain.calendars import BusinessCalendar
from domain.sla import SlaPolicy
from domain.ticket import TicketEvent
from domain.whatif import compare, recorded_outcome, report, rerun_outcome, with_calendar
from tests.domain.processes import process, stage

MONDAY_9 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
OFFICE = BusinessCalendar(key="office", version=1, hours={"mon": ["09:00-10:00"]})


def ev(seq: int, type_: str, minutes: float, **data: Any) -> TicketEvent:
    return TicketEvent(
        seq=seq, type=type_, at=MONDAY_9 + timedelta(minutes=minutes), actor="sla", data=data
    )


def clock(seq: int, type_: str, minutes: float, **data: Any) -> TicketEvent:
    return ev(seq, type_, minutes, clock="stage:fix", stage="fix", round=1, **data)


def definition(target: str, *, pause_when: list[str] | None = None, ladder: Any = None) -> Any:
    sla = {"target": target, "pause_when": pause_when or [], "ladder": ladder or []}
    return process(stage("fix", sla=SlaPolicy.model_validate(sla).model_dump(mode="json")))


# The fix stage ran from 09:00 to 09:50, waiting for the customer 09:10-09:40.
RECORDED = [
    clock(1, "sla_started", 0),
    ev(2, "waiting_started", 10, reason="customer"),
    ev(3, "waiting_ended", 40, reason="customer"),
    clock(4, "sla_stopped", 50, outcome="met"),
]


@pytest.mark.parametrize(
    ("target", "pause_when", "breached"),
    [
        ("PT1H", [], False),  # 50 min of 60
        ("PT45M", [], True),  # 50 min of 45
        ("PT45M", ["customer"], False),  # 20 min counted of 45
        ("PT15M", ["customer"], True),  # 20 min counted of 15
        ("PT20M", ["customer"], True),  # reached at the stop instant: due, as fire_due judges
    ],
)
def test_breach_under_another_policy(target: str, pause_when: list[str], breached: bool) -> None:
    outcome = rerun_outcome(RECORDED, definition(target, pause_when=pause_when), "P3", MONDAY_9)
    assert outcome.breaches == ({("stage:fix", 1)} if breached else set())


def test_a_tighter_calendar_gains_the_breach_and_its_rung() -> None:
    ladder = [{"name": "half", "at_fraction": 0.5, "actions": []}]
    roomy = definition("PT30M", ladder=ladder)
    events = [clock(1, "sla_started", 0), clock(2, "sla_stopped", 20, outcome="met")]
    recorded = recorded_outcome(events)
    assert rerun_outcome(events, roomy, "P3", MONDAY_9).breaches == recorded.breaches == set()
    tight = with_calendar(
        definition("PT10M", ladder=ladder),
        OFFICE.model_copy(update={"hours": {"mon": ["09:00-09:15"]}}),
    )
    # 09:00-09:15 counts 15 minutes of the 10-minute target; the half rung fires at 09:05.
    rerun = rerun_outcome(events, tight, "P3", MONDAY_9)
    difference = compare("T-1", recorded, rerun)
    assert difference.breaches_gained == ["stage:fix (round 1)"]
    assert difference.escalations_gained == ["stage:fix (round 1) rung 0"]
    assert difference.breaches_lost == difference.escalations_lost == []


def test_office_hours_lose_a_recorded_breach() -> None:
    # Recorded on 24x7: 09:30 to 11:30 breached a 1-hour target at 10:30. On office hours
    # (09:00-10:00) only 30 minutes count.
    events = [
        clock(1, "sla_started", 30),
        clock(2, "sla_breached", 90, due_at="x"),
        clock(3, "sla_stopped", 150, outcome="breached"),
    ]
    rerun = rerun_outcome(events, with_calendar(definition("PT1H"), OFFICE), "P3", MONDAY_9)
    difference = compare("T-2", recorded_outcome(events), rerun)
    assert difference.breaches_lost == ["stage:fix (round 1)"]
    assert difference.breaches_gained == []


def test_a_running_clock_is_judged_at_as_of() -> None:
    events = [clock(1, "sla_started", 0)]
    later = MONDAY_9 + timedelta(hours=2)
    assert rerun_outcome(events, definition("PT1H"), "P3", later).breaches == {("stage:fix", 1)}
    assert rerun_outcome(events, definition("PT3H"), "P3", later).breaches == set()


@pytest.mark.parametrize(
    ("routed", "confidence", "threshold", "expected"),
    [
        (True, 0.8, 0.9, None),  # a stricter threshold leaves it to the dispatcher
        (False, 0.6, 0.5, "ops"),  # a looser one routes it
        (True, 0.8, 0.7, "ops"),  # unchanged
    ],
)
def test_triage_routing_under_another_threshold(
    routed: bool, confidence: float, threshold: float, expected: str | None
) -> None:
    triage = {"dispatcher_group": "desk", "routed_stages": ["fix"], "threshold": threshold}
    other = process(stage("fix"), triage=triage)
    result = {"model_version": 1, "team": "ops", "confidence": confidence}
    data = {"result": result, "threshold": 0.7, "routed": routed, "team": "ops" if routed else None}
    events = [ev(1, "triaged", 0, **data)]
    difference = compare(
        "T-3", recorded_outcome(events), rerun_outcome(events, other, "P3", MONDAY_9)
    )
    assert difference.routed_after == expected
    assert difference.routing_changed == (expected != data["team"])


def test_report_totals_and_lists_only_changed_tickets() -> None:
    events = [clock(1, "sla_started", 0), clock(2, "sla_stopped", 50, outcome="met")]
    same = compare(
        "A", recorded_outcome(events), rerun_outcome(events, definition("PT1H"), "P3", MONDAY_9)
    )
    worse = compare(
        "B", recorded_outcome(events), rerun_outcome(events, definition("PT10M"), "P3", MONDAY_9)
    )
    summary = report([same, worse])
    assert summary.tickets_checked == 2
    assert [t.key for t in summary.tickets] == ["B"]
    assert (summary.breaches_gained, summary.breaches_lost, summary.routing_changes) == (1, 0, 0)
