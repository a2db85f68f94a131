"""The care workflow's pure rules as tables: who decides, what a ticket tells a strategy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from domain.care import CareStrategy, plan_care
from domain.care_flow import (
    MESSAGE_ACTIONS,
    CareDecisionInput,
    CareDecisionRefused,
    CareTask,
    action_data,
    check_decision,
    decide,
    intake_customer,
    may_decide,
    started_data,
    ticket_context,
    without_contact,
)
from domain.customers import Customer
from domain.ticket import Actor, TicketEvent

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
CARE = "customer-care"


def task(status: str = "open") -> CareTask:
    return CareTask.model_validate(
        {
            "id": "REP-1:warranty_offer",
            "ticket_key": "REP-1",
            "customer_id": "C-1",
            "action": "warranty_offer",
            "rule": "vip",
            "group": CARE,
            "opened_at": NOW,
            "deadline": NOW + timedelta(hours=48),
            "status": status,
        }
    )


@pytest.mark.parametrize(
    ("role", "department", "allowed"),
    [
        ("agent", CARE, True),
        ("admin", "it", True),
        ("agent", "field", False),
        ("auditor", CARE, False),
        ("requester", CARE, False),
        ("process_owner", CARE, False),
        ("system", CARE, False),
    ],
)
def test_who_decides_care_tasks(role: str, department: str, allowed: bool) -> None:
    assert may_decide(Actor(user="u", department=department, role=role), CARE) is allowed


CARLA = Actor(user="carla", department=CARE, role="agent")


@pytest.mark.parametrize(
    ("status", "task_id", "actor", "approve", "reason", "refused"),
    [
        ("open", "REP-1:warranty_offer", CARLA, True, "", None),
        ("open", "REP-1:warranty_offer", CARLA, False, "not now", None),
        ("open", "REP-1:warranty_offer", CARLA, False, "  ", "invalid"),
        ("open", "REP-1:coupon", CARLA, True, "", "not_found"),
        (
            "open",
            "REP-1:warranty_offer",
            Actor(user="f", department="field"),
            True,
            "",
            "forbidden",
        ),
        ("approved", "REP-1:warranty_offer", CARLA, True, "", "conflict"),
        ("lapsed", "REP-1:warranty_offer", CARLA, False, "late", "conflict"),
        ("withdrawn", "REP-1:warranty_offer", CARLA, True, "", "conflict"),
    ],
)
def test_a_decision_is_checked_before_it_applies(
    status: str, task_id: str, actor: Actor, approve: bool, reason: str, refused: str | None
) -> None:
    tasks = {"REP-1:warranty_offer": task(status)}
    cmd = CareDecisionInput(task_id=task_id, approve=approve, reason=reason, actor=actor)
    if refused is not None:
        with pytest.raises(CareDecisionRefused) as info:
            check_decision(tasks, cmd)
        assert info.value.kind == refused
        assert tasks["REP-1:warranty_offer"].status == status
        return
    found = check_decision(tasks, cmd)
    decide(found, cmd, NOW)
    assert (found.status, found.decided_by, found.decided_at, found.reason) == (
        "approved" if approve else "declined",
        "carla",
        NOW,
        reason,
    )


def _triaged(category: str) -> TicketEvent:
    return TicketEvent(
        seq=2, type="triaged", at=NOW, actor="triage", data={"result": {"category": category}}
    )


@pytest.mark.parametrize(
    ("intake", "events", "category", "product"),
    [
        ({"customer_id": "C-1"}, [], None, None),
        (
            {"category": "cooling", "product_id": "AC-200"},
            [_triaged("heating")],
            "cooling",
            "AC-200",
        ),
        ({}, [_triaged("heating")], "heating", None),
        ({"category": 7, "product_id": ["x"]}, [], None, None),
    ],
)
def test_what_a_closed_ticket_tells_a_strategy(
    intake: dict[str, Any], events: list[TicketEvent], category: str | None, product: str | None
) -> None:
    context = ticket_context("REP-1", "repair", intake, events)
    assert (context.key, context.definition) == ("REP-1", "repair")
    assert (context.category, context.product_id) == (category, product)


@pytest.mark.parametrize(
    ("intake", "customer"),
    [
        ({"customer_id": "C-1"}, "C-1"),
        ({"customer_id": ""}, None),
        ({"customer_id": 3}, None),
        ({}, None),
    ],
)
def test_the_customer_an_intake_names(intake: dict[str, Any], customer: str | None) -> None:
    assert intake_customer(intake) == customer


def test_a_workflow_holds_the_customer_without_contact_fields() -> None:
    customer = Customer(
        id="C-1", name="Li", email="li@example.com", phone="+86 1", address="1 Rd", tier="vip"
    )
    held = without_contact(customer)
    assert (held.email, held.phone, held.address) == (None, None, None)
    assert (held.id, held.name, held.tier) == ("C-1", "Li", "vip")


def test_only_the_supervisors_call_needs_no_message_consent() -> None:
    assert "supervisor_call" not in MESSAGE_ACTIONS
    assert {"survey", "coupon", "usage_tips", "maintenance_reminder", "warranty_offer"} == (
        MESSAGE_ACTIONS
    )


def test_records_name_the_plan_and_each_outcome() -> None:
    strategy = CareStrategy.model_validate(
        {
            "key": "after-repair",
            "version": 3,
            "rules": [
                {
                    "name": "all",
                    "actions": [
                        {"action": "survey", "delay": "P1D"},
                        {"action": "supervisor_call", "delay": "PT0S", "mode": "confirm"},
                    ],
                }
            ],
        }
    )
    customer = Customer(id="C-1", name="Li", tier="basic")
    plan = plan_care(strategy, customer, ticket_context("REP-1", "repair", {}, []), NOW)
    assert started_data(strategy, plan) == {
        "strategy": "after-repair@3",
        "planned": [
            {
                "action": "supervisor_call",
                "rule": "all",
                "mode": "confirm",
                "due_at": NOW.isoformat(),
            },
            {
                "action": "survey",
                "rule": "all",
                "mode": "automatic",
                "due_at": (NOW + timedelta(days=1)).isoformat(),
            },
        ],
    }
    assert action_data(plan[1], "sent", channel="webhook", status=202, error=None) == {
        "action": "survey",
        "rule": "all",
        "mode": "automatic",
        "due_at": (NOW + timedelta(days=1)).isoformat(),
        "outcome": "sent",
        "channel": "webhook",
        "status": 202,
    }
