"""What an alarm ticket is filed with, when the edge sends an alarm, and the open list's upkeep."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from domain.device_alarm_tickets import (
    AlarmReport,
    alarm_event_payload,
    alarm_id,
    alarm_intake,
    alarms_workflow_id,
    due_alarms,
    still_open,
    without_ticket,
)
from domain.device_alarms import AlarmSummary, OpenAlarm, alarm_summary
from domain.device_reading import snapshot_of
from domain.devices import Reading, Threshold
from forms.validation import data_problems
from services.bundled import bundled_definitions
from tests.domain.test_device_alarms import T0, curve, pump

MINUTE = timedelta(minutes=1)


def anomaly(*values: float) -> AlarmSummary:
    """An anomaly on the pump's vibration over these samples."""
    return alarm_summary(pump(), "anomaly", "vibration", curve(*values), 0.7)


def threshold() -> AlarmSummary:
    """The pump's vibration above its 8.0 limit."""
    device = pump({"vibration": Threshold(high=8.0)})
    return alarm_summary(device, "threshold_high", "vibration", curve(7.0, 8.5), 0.0625, 8.0)


def opened(ticket: str, type_: str, minutes_ago: float) -> OpenAlarm:
    return OpenAlarm(
        ticket_key=ticket, device_id="pump-1", type=type_, last_at=T0 - minutes_ago * MINUTE
    )


def test_the_intake_says_what_fired_in_words_and_numbers() -> None:
    intake = alarm_intake(anomaly(2.0, 2.2, 2.4))
    assert intake["device_id"] == "pump-1"
    assert intake["alarm_type"] == "anomaly:vibration"
    assert intake["severity"] == "minor"
    assert intake["occurred_at"] == (T0 + 2 * timedelta(seconds=1)).isoformat()
    assert intake["fault_description"] == (
        "Alarm anomaly:vibration on device pump-1: vibration anomaly detected, now 2.4 "
        "(mean 2.2, +12 a minute over 0.0333 min, score 0.7)"
    )
    assert intake["alarm"]["window"]["vibration"]["count"] == 3
    over = alarm_intake(threshold())
    assert over["severity"] == "major"
    assert "vibration above its limit 8, now 8.5" in over["fault_description"]


@pytest.mark.parametrize("summary", [anomaly(2.0, 2.2, 2.4), threshold()])
def test_the_bundled_alarm_definition_takes_the_intake(summary: AlarmSummary) -> None:
    (document,) = [d for name, d in bundled_definitions() if name == "device-alarm.yaml"]
    assert data_problems(document["intake_form"], alarm_intake(summary)) == []


def test_the_event_carries_the_summary_and_the_sealed_snapshot_without_curves() -> None:
    summary = anomaly(2.0, 2.4)
    snapshot = snapshot_of(
        pump(), [Reading(point="vibration", value=2.4, source_time=T0)], taken_at=T0
    )
    payload = alarm_event_payload(AlarmReport(summary=summary, snapshot=snapshot))
    assert payload["alarm"]["type"] == "anomaly:vibration"
    assert payload["snapshot"]["sha256"] == snapshot.sha256
    assert payload["snapshot"]["curves"] == {}


def test_ids_name_the_device_and_the_alarm() -> None:
    assert alarms_workflow_id("pump-1") == "device-alarms:pump-1"
    summary = anomaly(2.0, 2.4)
    assert alarm_id(summary) == f"pump-1:anomaly:vibration:{summary.last_at.isoformat()}"
    assert alarm_id(summary) != alarm_id(anomaly(2.0, 2.4, 2.6))


@pytest.mark.parametrize(
    ("sent", "expected"),
    [
        ({}, ["anomaly:vibration", "threshold_high:vibration"]),
        ({"anomaly:vibration": T0 - 4 * MINUTE}, ["threshold_high:vibration"]),
        ({"anomaly:vibration": T0 - 5 * MINUTE}, ["anomaly:vibration", "threshold_high:vibration"]),
        (
            {"anomaly:vibration": T0 - MINUTE, "threshold_high:vibration": T0 - MINUTE},
            [],
        ),
    ],
)
def test_a_lasting_alarm_is_sent_again_only_every_repeat(
    sent: dict[str, datetime], expected: list[str]
) -> None:
    alarms = [anomaly(2.0, 2.4), threshold()]
    due = due_alarms(alarms, sent, T0, 5 * MINUTE)
    assert [a.type for a in due] == expected


def test_the_open_list_forgets_quiet_alarms_and_closed_tickets() -> None:
    alarms = [opened("DA-1", "anomaly:vibration", 10), opened("DA-2", "anomaly:flow", 40)]
    assert still_open(alarms, T0, 30 * MINUTE) == alarms[:1]
    assert without_ticket(alarms, "DA-1") == alarms[1:]
