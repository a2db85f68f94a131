"""Device snapshots as ticket evidence: summaries, transitions and publish checks."""

from __future__ import annotations

from typing import Any

import pytest

from domain.actions import BUILTIN_ACTIONS, DEVICE_SNAPSHOT, reads_device
from domain.definitions import ProcessDefinition, structural_problems
from domain.device_evidence import (
    evidence_data,
    intake_device,
    reading_counts,
    snapshot_summary,
    snapshot_target,
)
from domain.device_reading import unreachable_snapshot
from domain.devices import Device, ModbusPoint, Reading, Snapshot, seal
from domain.process_checks import PublishRules, process_problems
from domain.ticket import TaskStatus, TicketRuleError
from services.process_publishing import params_problems
from tests.domain.processes import process, service, stage, start
from tests.domain.tickets import NOW

DEVICE = Device(
    id="press-7",
    site="local",
    model="P7",
    protocol="modbus-tcp",
    endpoint="127.0.0.1:502",
    points=[
        ModbusPoint(name="temp", register="holding", address=0, unit="°C"),
        ModbusPoint(name="run", register="coil", address=0, type="bool"),
    ],
    version=2,
)
GOOD = seal(
    Snapshot(
        device_id="press-7",
        device_version=2,
        site="local",
        taken_at=NOW,
        readings=[
            Reading(point="temp", value=21.5, unit="°C"),
            Reading(point="run", quality="bad", reason="ILLEGAL_ADDRESS (2)"),
        ],
    )
)
SNAPSHOT_STAGE = process(
    stage(
        "reading",
        kind="service",
        service=service("device.snapshot", params={"device": "=intake.device_id"}),
    ),
    stage("after", depends_on=["reading"]),
)


def test_the_summary_has_the_seal_the_counts_and_each_point() -> None:
    assert snapshot_summary(GOOD) == {
        "device_id": "press-7",
        "taken_at": NOW.isoformat(),
        "sha256": GOOD.sha256,
        "good": 1,
        "bad": 1,
        "points": {
            "temp": {"value": 21.5, "unit": "°C", "quality": "good"},
            "run": {"value": None, "unit": "", "quality": "bad"},
        },
    }
    assert evidence_data(GOOD) == {
        "device_id": "press-7",
        "sha256": GOOD.sha256,
        "taken_at": NOW.isoformat(),
        "good": 1,
        "bad": 1,
    }


def test_an_unreachable_snapshot_counts_every_reading_bad() -> None:
    snapshot = unreachable_snapshot(DEVICE, taken_at=NOW, error="DeviceUnreachable: refused")
    assert reading_counts(snapshot) == (0, 2)
    assert {p["quality"] for p in snapshot_summary(snapshot)["points"].values()} == {"bad"}


@pytest.mark.parametrize(
    ("intake", "named"),
    [
        ({"device_id": "press-7"}, "press-7"),
        ({"device_id": ""}, None),
        ({"device_id": 7}, None),
        ({"device": "press-7"}, None),
        ({}, None),
    ],
)
def test_an_intake_names_a_device_in_a_device_id_text(
    intake: dict[str, Any], named: str | None
) -> None:
    assert intake_device(intake) == named


@pytest.mark.parametrize("value", [None, 7, "", ["press-7"]])
def test_a_stage_must_name_its_device_as_text(value: Any) -> None:
    with pytest.raises(ValueError, match="`device` must be a device id"):
        snapshot_target({"device": value})
    assert snapshot_target({"device": "press-7"}) == "press-7"


def test_a_snapshot_completes_its_stage_with_the_summary_even_when_all_bad() -> None:
    state = start(SNAPSHOT_STAGE, {"device_id": "press-7"})
    assert state.tasks["reading"].status == TaskStatus.RUNNING
    snapshot = unreachable_snapshot(DEVICE, taken_at=NOW, error="DeviceUnreachable: refused")
    events = state.service_snapshot_taken("reading", snapshot, NOW)
    assert [e.type for e in events] == ["device_snapshot_taken", "service_completed", "task_opened"]
    assert events[0].data["bad"] == 2
    assert events[0].data["stage"] == "reading"
    assert state.tasks["reading"].status == TaskStatus.DONE
    assert state.tasks["reading"].data == snapshot_summary(snapshot)
    assert state.tasks["after"].status == TaskStatus.OPEN
    with pytest.raises(TicketRuleError, match="not a running service"):
        state.service_snapshot_taken("reading", snapshot, NOW)


def test_the_creation_snapshot_is_kept_for_triage_and_refused_once_final() -> None:
    state = start(SNAPSHOT_STAGE, {"device_id": "press-7"})
    event = state.intake_snapshot_taken(GOOD, NOW)
    assert (event.type, event.actor, event.data) == (
        "device_snapshot_taken",
        "system",
        evidence_data(GOOD),
    )
    assert state.intake_snapshot == snapshot_summary(GOOD)
    state.cancel(state.requester, "gone", NOW)
    with pytest.raises(TicketRuleError):
        state.intake_snapshot_taken(GOOD, NOW)


def test_device_snapshot_is_a_builtin_the_workflow_reads_on_the_edge() -> None:
    assert BUILTIN_ACTIONS["device.snapshot"] is DEVICE_SNAPSHOT
    assert reads_device("device.snapshot")
    assert not reads_device("http.request")
    assert not reads_device("lab.unknown")


def _published(params: dict[str, Any], correlation: str | None = None) -> list[str]:
    document = SNAPSHOT_STAGE.model_dump(mode="json")
    document["stages"][0]["service"]["params"] = params
    document["intake_form"] = {"type": "object", "properties": {"device_id": {"type": "string"}}}
    if correlation is not None:
        document["stages"][1]["gateway"] = {
            "type": "inclusive",
            "branches": [{"to": "end", "when": correlation}],
        }
        document["stages"].append({"key": "end", "title": "End", "group": "desk"})
    definition = ProcessDefinition.model_validate(document)
    rules = PublishRules()
    problems = [
        *structural_problems(definition),
        *process_problems(definition, rules),
        *params_problems(definition, rules),
    ]
    return [f"{p.pointer}: {p.detail}" for p in problems]


def test_publishing_checks_the_device_parameter() -> None:
    assert _published({"device": "=intake.device_id"}) == []
    assert _published({"device": "press-7"}) == []
    assert _published({}) == ["/stages/0/service/params: 'device' is a required property"]
    assert _published({"device": 7}) == [
        "/stages/0/service/params/device: 7 is not of type 'string'"
    ]
    assert _published({"device": "p", "points": 1}) == [
        "/stages/0/service/params: Additional properties are not allowed ('points' was unexpected)"
    ]


def test_later_expressions_may_read_the_summary_and_nothing_else() -> None:
    assert _published({"device": "p"}, "stages.reading.data.bad > 0") == []
    assert _published({"device": "p"}, "stages.reading.data.points.temp.quality == 'good'") == []
    (problem,) = _published({"device": "p"}, "stages.reading.data.temperature > 1.0")
    assert problem.startswith("/stages/1/gateway/branches/0/when")
