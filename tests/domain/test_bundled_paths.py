"""The bundled repair examples take the paths their descriptions promise (pure ticket state)."""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

from domain.definitions import ProcessDefinition
from domain.devices import Reading, Snapshot, seal
from domain.ticket import Actor, TaskStatus, TicketState, TicketStatus
from services.bundled import bundled_definitions
from tests.domain.tickets import NOW, RITA
from tests.forms.test_examples import SAMPLES

BUNDLED = dict(bundled_definitions())


def _start(name: str, **intake: Any) -> TicketState:
    definition = ProcessDefinition.model_validate(BUNDLED[name])
    definition.version = 1
    return TicketState.create(
        key="EX-1",
        definition=definition,
        intake={**SAMPLES[name]["intake"], **intake},
        requester=RITA,
        now=NOW,
    )


def _work(state: TicketState, name: str, key: str, **changes: Any) -> None:
    """Someone of the stage's group completes it with the sample data (changed as given)."""
    group = state.definition.stage(key).group
    who = Actor(user=f"{group}-agent", department=group, role="agent")
    state.claim(key, who, NOW)
    state.complete(key, who, {**copy.deepcopy(SAMPLES[name][key]), **changes}, NOW)
    state.open_ready_tasks(NOW)


def _snapshot() -> Snapshot:
    """What the press's controller answered."""
    reading = Reading(point="pressure", value=182.5, unit="bar")
    return seal(
        Snapshot(
            device_id="plc-press-7",
            device_version=1,
            site="hamburg",
            taken_at=NOW,
            readings=[reading],
        )
    )


def _status(state: TicketState) -> dict[str, TaskStatus]:
    return {key: task.status for key, task in state.tasks.items()}


EQ = "equipment-repair.yaml"
AS = "after-sales-repair.yaml"


def test_a_safety_critical_fault_needs_the_supervisor_and_waits_for_its_own_order() -> None:
    state = _start(EQ, severity="safety-critical")
    _work(state, EQ, "inspect")
    status = _status(state)
    assert status["supervisor-approval"] == TaskStatus.OPEN
    assert status["safety-check"] == TaskStatus.SKIPPED
    _work(state, EQ, "supervisor-approval")
    _work(state, EQ, "order-parts")
    assert state.tasks["part-arrival"].status == TaskStatus.RUNNING
    assert state.tasks["repair"].status == TaskStatus.PENDING
    # Another order's goods receipt ends nothing; this order's ends the wait.
    assert state.waits_for("part-arrived", {"purchase_order": "PO-9999999"}) == []
    assert state.waits_for("part-arrived", {"purchase_order": "PO-2024001"}) == ["part-arrival"]
    state.wait_matched("part-arrival", {"purchase_order": "PO-2024001"}, "gr-1", NOW)
    status = _status(state)
    assert status["escalate-purchasing"] == TaskStatus.SKIPPED
    assert status["repair"] == TaskStatus.OPEN
    # The intake names the controller: read as the engineer claims the repair (the workflow
    # does so for a stage with `snapshot_on_claim`), and again once production accepted it.
    assert [s.key for s in state.definition.stages if s.snapshot_on_claim] == ["repair"]
    state.claim(
        "repair", Actor(user="maintenance-agent", department="maintenance", role="agent"), NOW
    )
    taken = state.claim_snapshot_taken("repair", _snapshot(), NOW)
    assert (taken.data["stage"], taken.data["device_id"]) == ("repair", "plc-press-7")
    _work(state, EQ, "repair")
    _work(state, EQ, "acceptance")
    assert state.tasks["snapshot-after-repair"].status == TaskStatus.RUNNING
    assert state.service_input("snapshot-after-repair").params == {"device": "plc-press-7"}
    state.service_snapshot_taken("snapshot-after-repair", _snapshot(), NOW)
    assert state.status == TicketStatus.RESOLVED


def test_a_machine_without_a_controller_is_never_read() -> None:
    state = _start(EQ, severity="major")
    del state.intake["device_id"]
    for key in ("inspect", "safety-check"):
        _work(state, EQ, key)
    _work(state, EQ, "order-parts", parts_ordered=False)
    _work(state, EQ, "repair")
    _work(state, EQ, "acceptance")
    assert state.tasks["snapshot-after-repair"].status == TaskStatus.SKIPPED
    assert state.status == TicketStatus.RESOLVED


def test_late_parts_escalate_to_purchasing_before_the_repair() -> None:
    state = _start(EQ, severity="minor")
    _work(state, EQ, "inspect")
    assert state.tasks["supervisor-approval"].status == TaskStatus.SKIPPED
    _work(state, EQ, "safety-check")
    _work(state, EQ, "order-parts")
    assert state.tasks["part-arrival"].until == NOW + timedelta(days=7)
    state.wait_timed_out("part-arrival", NOW + timedelta(days=7))
    assert state.tasks["escalate-purchasing"].status == TaskStatus.OPEN
    assert state.tasks["repair"].status == TaskStatus.PENDING
    _work(state, EQ, "escalate-purchasing")
    assert state.tasks["repair"].status == TaskStatus.OPEN


def test_without_parts_to_order_the_repair_starts_after_the_clearance() -> None:
    state = _start(EQ, severity="major")
    _work(state, EQ, "inspect")
    _work(state, EQ, "order-parts", parts_ordered=False)
    status = _status(state)
    assert status["part-arrival"] == TaskStatus.SKIPPED
    assert status["escalate-purchasing"] == TaskStatus.SKIPPED
    assert status["repair"] == TaskStatus.PENDING  # EHS has not cleared it yet
    _work(state, EQ, "safety-check")
    assert state.tasks["repair"].status == TaskStatus.OPEN


def test_after_sales_records_the_repair_in_the_crm_and_calls_three_days_later() -> None:
    state = _start(AS)
    for key in ("intake-review", "remote-diagnosis", "field-repair", "spare-parts"):
        _work(state, AS, key)
    assert state.tasks["crm-update"].status == TaskStatus.RUNNING
    call = state.service_input("crm-update")
    assert call.params["url"] == "http://127.0.0.1:8070/crm/v1/service-cases"
    assert call.params["body"]["ticket"] == "EX-1"
    assert call.params["body"]["serial_number"] == "WM8-2023-0045871"
    assert call.params["body"]["fixed"] is True
    state.service_completed("crm-update", {"status": 201, "case_id": "SC-1"}, NOW)
    assert state.tasks["satisfaction-delay"].until == NOW + timedelta(days=3)
    assert state.tasks["customer-callback"].status == TaskStatus.PENDING
    state.timer_fired("satisfaction-delay", NOW + timedelta(days=3))
    assert state.tasks["customer-callback"].status == TaskStatus.OPEN


def test_an_unreachable_crm_becomes_a_customer_service_task() -> None:
    state = _start(AS)
    for key in ("intake-review", "remote-diagnosis", "field-repair", "spare-parts"):
        _work(state, AS, key)
    state.service_failed("crm-update", "POST http://127.0.0.1:8070/…: ConnectError", 5, NOW)
    task = state.tasks["crm-update"]
    assert (task.status, task.kind, task.group) == (TaskStatus.OPEN, "service", "customer-service")
