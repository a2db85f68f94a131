"""Automated stages, gateways and dead-path elimination on the pure ticket state machine."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from domain.calendars import BusinessCalendar
from domain.expressions import ExpressionError
from domain.sla import ClockState
from domain.sla_clocks import stage_clock_id, sync_clocks
from domain.ticket import (
    Actor,
    ParentRef,
    TaskStatus,
    TicketEvent,
    TicketRuleError,
    TicketState,
    TicketStatus,
)
from tests.domain.processes import (
    DESK,
    OPS,
    REPAIR,
    exclusive,
    inclusive,
    process,
    service,
    stage,
    start,
)
from tests.domain.tickets import NOW, RITA

HOUR = timedelta(hours=1)


def statuses(state: TicketState) -> dict[str, str]:
    """Each stage's task status."""
    return {key: task.status.value for key, task in state.tasks.items()}


def types(events: list[TicketEvent]) -> list[str]:
    """The event types, in order."""
    return [e.type for e in events]


def work(
    state: TicketState, key: str, who: Actor = DESK, data: dict[str, Any] | None = None
) -> None:
    """A person claims and completes a stage; the process moves on."""
    state.claim(key, who, NOW)
    state.complete(key, who, data or {}, NOW)
    state.open_ready_tasks(NOW)


def assessed(level: int) -> TicketState:
    """A repair whose assessment came back with this level."""
    state = start(REPAIR, {"severity": level, "order": "PO-7"})
    state.service_completed("assess", {"level": level}, NOW)
    return state


def at_the_wait() -> TicketState:
    """A repair on the normal path, now waiting for its spare part."""
    state = assessed(1)
    work(state, "fix")
    work(state, "verify")
    return state


# -- starting ------------------------------------------------------------------------------


def test_a_root_service_stage_runs_at_creation_and_its_clock_counts() -> None:
    state = start(REPAIR)
    assert state.tasks["assess"].status == TaskStatus.RUNNING
    assert state.tasks["assess"].kind == "service"
    started = state.events[-1]
    assert started.type == "service_started"
    assert started.data == {
        "task": "FLOW-1:assess:1",
        "stage": "assess",
        "group": "ops",
        "assignee": None,
        "kind": "service",
        "action": "test.flaky",
        "attempt_limit": 3,
    }
    sync_clocks(state, NOW)
    clock = state.clocks[stage_clock_id("assess")]
    assert clock.state() == ClockState.RUNNING
    assert state.active_groups() == []  # running, not in anybody's queue


def test_service_parameters_are_evaluated_over_the_ticket_at_any_depth() -> None:
    definition = process(
        stage(
            "call",
            kind="service",
            service=service(
                params={
                    "ticket": "=ticket.key",
                    "nested": {"list": ["=intake.severity * 2", "literal", 3]},
                    "when": "=timestamp('2026-12-01T09:00:00Z')",
                    "plain": "no expression",
                }
            ),
        )
    )
    call = start(definition).service_input("call")
    assert (call.ticket_key, call.stage, call.action) == ("FLOW-1", "call", "test.flaky")
    assert call.params == {
        "ticket": "FLOW-1",
        "nested": {"list": [4, "literal", 3]},
        "when": "2026-12-01T09:00:00+00:00",
        "plain": "no expression",
    }


def test_a_parameter_that_cannot_be_evaluated_is_an_expression_error() -> None:
    definition = process(
        stage("call", kind="service", service=service(params={"x": "=intake.nope"}))
    )
    with pytest.raises(ExpressionError):
        start(definition).service_input("call")


# -- gateways and dead paths -----------------------------------------------------------------


def test_an_exclusive_gateway_takes_one_branch_and_skips_the_other() -> None:
    state = assessed(5)
    decided = next(e for e in state.events if e.type == "gateway_decided")
    assert decided.data["taken"] == ["safety"]
    assert (decided.data["type"], decided.data["default"]) == ("exclusive", False)
    skipped = next(e for e in state.events if e.type == "stage_skipped")
    assert skipped.data["stage"] == "fix"
    assert skipped.data["reason"] == "no path into it was taken: the gateway of assess chose safety"
    assert statuses(state)["safety"] == "open"
    assert statuses(state)["fix"] == "skipped"
    # The join waits only for the branch taken.
    work(state, "safety", OPS)
    assert statuses(state)["verify"] == "open"


def test_the_default_branch_when_no_condition_holds() -> None:
    state = assessed(1)
    assert statuses(state)["fix"] == "open"
    assert statuses(state)["safety"] == "skipped"
    decided = next(e for e in state.events if e.type == "gateway_decided")
    assert (decided.data["taken"], decided.data["default"]) == (["fix"], True)


def test_a_gateway_whose_condition_fails_takes_its_default_and_says_why() -> None:
    state = start(REPAIR)
    state.service_completed("assess", {"unexpected": True}, NOW)
    decided = next(e for e in state.events if e.type == "gateway_decided")
    assert (decided.data["taken"], decided.data["default"]) == (["fix"], True)
    assert "level" in decided.data["error"]
    assert statuses(state)["fix"] == "open"


def test_an_inclusive_gateway_with_a_join_waits_for_the_branches_taken() -> None:
    definition = process(
        stage(
            "sort",
            gateway=inclusive(
                ("mail", "stages.sort.data.mail"),
                ("phone", "stages.sort.data.phone"),
                ("visit", "stages.sort.data.visit"),
            ),
        ),
        stage("mail"),
        stage("phone"),
        stage("visit"),
        stage("report", depends_on=["mail", "phone", "visit"]),
    )
    state = start(definition)
    work(state, "sort", data={"mail": True, "phone": True, "visit": False})
    assert statuses(state) == {
        "sort": "done",
        "mail": "open",
        "phone": "open",
        "visit": "skipped",
        "report": "pending",
    }
    work(state, "mail")
    assert statuses(state)["report"] == "pending"
    work(state, "phone")
    assert statuses(state)["report"] == "open"
    work(state, "report")
    assert state.status == TicketStatus.RESOLVED


def test_an_inclusive_gateway_without_a_default_that_takes_nothing_skips_everything_after() -> None:
    definition = process(
        stage("sort", gateway=inclusive(("a", "false"))),
        stage("a"),
        stage("b", depends_on=["a"]),
        stage("c", depends_on=["b"]),
    )
    state = start(definition)
    events_before = len(state.events)
    work(state, "sort")
    assert statuses(state) == {"sort": "done", "a": "skipped", "b": "skipped", "c": "skipped"}
    skips = [e for e in state.events[events_before:] if e.type == "stage_skipped"]
    assert [e.data["reason"] for e in skips] == [
        "no path into it was taken: the gateway of sort chose nothing",
        "no path into it was taken: a was skipped",
        "no path into it was taken: b was skipped",
    ]
    assert state.status == TicketStatus.RESOLVED


def test_a_stage_reached_by_a_branch_and_a_dependency_runs_if_either_is_taken() -> None:
    definition = process(
        stage("a", gateway=exclusive(("b", "false"), default="c")),
        stage("b"),
        stage("c"),
        stage("d", depends_on=["a"]),
    )
    state = start(definition)
    work(state, "a")
    assert statuses(state) == {"a": "done", "b": "skipped", "c": "open", "d": "open"}


# -- service stages that fail -----------------------------------------------------------------


def failed() -> TicketState:
    """A repair whose assessment exhausted its retries."""
    state = start(REPAIR)
    state.service_failed("assess", "ActionFailed: HTTP 503", 3, NOW)
    return state


def test_a_service_that_fails_for_good_becomes_a_task_in_its_groups_queue() -> None:
    state = failed()
    task = state.tasks["assess"]
    assert (task.status, task.kind, task.group, task.error) == (
        TaskStatus.OPEN,
        "service",
        "ops",
        "ActionFailed: HTTP 503",
    )
    assert state.events[-1].type == "service_failed"
    assert state.events[-1].data["attempts"] == 3
    assert state.active_groups() == ["ops"]


@pytest.mark.parametrize(
    ("data", "pointers"),
    [
        ({}, ["/decision"]),
        ({"decision": "again"}, ["/decision"]),
        ({"decision": "skip"}, ["/reason"]),
        ({"decision": "skip", "reason": "  "}, ["/reason"]),
        ({"decision": "retry", "reason": "x"}, ["/reason"]),
    ],
)
def test_a_failed_service_task_takes_only_a_decision(
    data: dict[str, Any], pointers: list[str]
) -> None:
    state = failed()
    state.claim("assess", OPS, NOW)
    with pytest.raises(TicketRuleError) as info:
        state.complete("assess", OPS, data, NOW)
    assert info.value.kind == "invalid"
    assert [p.pointer for p in info.value.problems] == pointers


def test_retry_runs_the_action_again() -> None:
    state = failed()
    state.claim("assess", OPS, NOW)
    event = state.complete("assess", OPS, {"decision": "retry"}, NOW)
    assert event.type == "service_retried"
    assert event.data["by"] == "otto"
    task = state.tasks["assess"]
    assert (task.status, task.assignee, task.error) == (TaskStatus.RUNNING, None, None)
    state.service_completed("assess", {"level": 5}, NOW)
    assert statuses(state)["safety"] == "open"


def test_skip_finishes_the_stage_without_output_and_the_process_goes_on() -> None:
    state = failed()
    state.claim("assess", OPS, NOW)
    state.complete("assess", OPS, {"decision": "skip", "reason": "CRM down"}, NOW)
    state.open_ready_tasks(NOW)
    assert state.tasks["assess"].status == TaskStatus.DONE
    assert state.tasks["assess"].data == {"skipped": "CRM down"}
    skipped = next(e for e in state.events if e.type == "service_skipped")
    assert skipped.data == {**skipped.data, "by": OPS.user, "reason": "CRM down"}
    assert not [e for e in state.events if e.type == "task_completed"]  # no form was filled
    # The gateway cannot read a level it never got: it takes its default, saying so.
    decided = next(e for e in state.events if e.type == "gateway_decided")
    assert decided.data["taken"] == ["fix"]
    assert "error" in decided.data


def test_reports_about_a_stage_that_is_not_running_are_refused() -> None:
    state = assessed(1)
    with pytest.raises(TicketRuleError) as info:
        state.service_completed("assess", {}, NOW)
    assert info.value.kind == "conflict"
    with pytest.raises(TicketRuleError):
        state.timer_fired("fix", NOW)


def test_set_fields_output_becomes_ticket_fields_in_the_context() -> None:
    definition = process(
        stage(
            "compute",
            kind="service",
            service=service("ticket.set_fields", params={"fields": {"total": "=1 + 2"}}),
            gateway=exclusive(("big", "fields.total > 2"), default="small"),
        ),
        stage("big"),
        stage("small"),
    )
    state = start(definition)
    state.service_completed("compute", {"total": 3}, NOW)
    assert state.fields == {"total": 3}
    assert state.expression_context()["fields"] == {"total": 3}
    assert statuses(state)["big"] == "open"


# -- waits -------------------------------------------------------------------------------------


def test_a_wait_starts_with_its_deadline() -> None:
    state = at_the_wait()
    task = state.tasks["part"]
    assert (task.status, task.kind, task.until) == (TaskStatus.RUNNING, "wait", NOW + 2 * HOUR)
    started = next(e for e in state.events if e.type == "wait_started")
    assert (started.data["signal"], started.data["until"]) == (
        "external_update",
        (NOW + 2 * HOUR).isoformat(),
    )


def test_only_a_signal_whose_correlation_holds_ends_the_wait() -> None:
    state = at_the_wait()
    assert state.waits_for("external_update", {"order": "PO-8"}) == []  # a forged order
    assert state.waits_for("external_update", {}) == []  # no order at all: does not hold
    assert state.waits_for("customer_reply", {"order": "PO-7"}) == []
    assert state.waits_for("external_update", {"order": "PO-7"}) == ["part"]
    events = state.wait_matched("part", {"order": "PO-7"}, "sig-1", NOW)
    assert types(events) == ["wait_matched", "stage_skipped", "task_opened"]
    assert events[0].data["signal_id"] == "sig-1"
    assert state.tasks["part"].data == {"order": "PO-7"}
    assert statuses(state)["install"] == "open"
    assert statuses(state)["chase"] == "skipped"
    assert events[1].data["reason"] == "no path into it was taken: part did not time out"


def test_a_wait_that_times_out_takes_only_its_timeout_path() -> None:
    state = at_the_wait()
    state.wait_timed_out("part", NOW + 2 * HOUR)
    assert statuses(state)["chase"] == "open"
    assert [statuses(state)[k] for k in ("install", "cool", "handover")] == ["skipped"] * 3
    install = next(
        e for e in state.events if e.type == "stage_skipped" and e.data["stage"] == "install"
    )
    assert install.data["reason"] == "no path into it was taken: part timed out"
    work(state, "chase")
    assert state.status == TicketStatus.RESOLVED


# -- timers and subprocesses -------------------------------------------------------------------


def test_a_timer_fires_and_the_subprocess_after_it_runs_to_its_childs_end() -> None:
    state = at_the_wait()
    state.wait_matched("part", {"order": "PO-7"}, "", NOW)
    work(state, "install")
    assert state.tasks["cool"].until == NOW + HOUR
    assert state.events[-1].type == "timer_started"
    fired = state.timer_fired("cool", NOW + HOUR)
    assert types(fired) == ["timer_fired"]  # a subprocess announces itself with its child
    assert statuses(state)["handover"] == "running"
    assert state.subprocess_intake("handover") == {"order": "PO-7"}
    started = state.subprocess_started("handover", "CARE-000001", "care@1", NOW)
    assert (started.data["child"], started.data["definition"]) == ("CARE-000001", "care@1")
    closed = state.subprocess_closed("handover", "closed", NOW)
    assert types(closed) == ["subprocess_closed", "resolved"]
    assert state.tasks["handover"].data == {"key": "CARE-000001", "status": "closed"}


def test_a_subprocess_whose_child_could_not_start_ends_failed_with_the_error() -> None:
    state = start(process(stage("child", kind="subprocess", subprocess={"definition": "care"})))
    closed = state.subprocess_closed("child", "failed", NOW, error="no published definition care")
    assert closed[0].data == {
        "task": "FLOW-1:child:1",
        "stage": "child",
        "group": "desk",
        "assignee": None,
        "kind": "subprocess",
        "child": None,
        "status": "failed",
        "error": "no published definition care",
    }
    assert state.status == TicketStatus.RESOLVED


def test_a_child_tickets_creation_names_its_parent() -> None:
    state = TicketState.create(
        key="CARE-1",
        definition=process(stage("call")),
        intake={},
        requester=RITA,
        now=NOW,
        parent=ParentRef(key="FLOW-1", stage="handover"),
    )
    assert state.events[0].data["parent"] == {"key": "FLOW-1", "stage": "handover"}


WEEKDAYS = {d: ["09:00-17:00"] for d in ("mon", "tue", "wed", "thu", "fri")}


def test_a_timer_counts_business_time_on_its_calendar_over_a_weekend() -> None:
    office = BusinessCalendar(key="office", version=1, timezone="UTC", hours=WEEKDAYS)
    definition = process(
        stage("wait", kind="timer", timer={"duration": "PT4H", "calendar": "office@1"}),
        calendars={"office@1": office},
    )
    friday_afternoon = datetime(2026, 12, 4, 15, 0, tzinfo=UTC)
    assert friday_afternoon.date().weekday() == 4
    state = TicketState.create(
        key="FLOW-1", definition=definition, intake={}, requester=RITA, now=friday_afternoon
    )
    # Two hours on Friday, two on Monday morning.
    assert state.tasks["wait"].until == datetime(2026, 12, 7, 11, 0, tzinfo=UTC)
    assert state.tasks["wait"].until.date() == date(2026, 12, 7)


def test_a_timer_until_an_instant_from_the_intake() -> None:
    definition = process(
        stage("visit", kind="timer", timer={"until": "timestamp(intake.visit_at)"})
    )
    state = start(definition, {"visit_at": "2026-12-03T08:30:00Z"})
    assert state.tasks["visit"].until == datetime(2026, 12, 3, 8, 30, tzinfo=UTC)


@pytest.mark.parametrize("intake", [{}, {"visit_at": "soon"}, {"visit_at": 7}])
def test_a_timer_whose_instant_cannot_be_evaluated_fires_at_once_saying_why(
    intake: dict[str, Any],
) -> None:
    definition = process(stage("visit", kind="timer", timer={"until": "intake.visit_at"}))
    state = start(definition, intake)
    assert state.tasks["visit"].until == NOW
    assert "error" in state.events[-1].data


# -- reopen, cancel, SLA -------------------------------------------------------------------------


def resolved_on_the_safety_path() -> TicketState:
    state = assessed(5)
    work(state, "safety", OPS)
    work(state, "verify")
    state.wait_matched("part", {"order": "PO-7"}, "", NOW)
    work(state, "install")
    state.timer_fired("cool", NOW)
    state.subprocess_started("handover", "CARE-1", "care@1", NOW)
    state.subprocess_closed("handover", "closed", NOW)
    assert state.status == TicketStatus.RESOLVED
    return state


def test_reopening_a_gateway_stage_runs_it_again_and_its_paths_are_decided_again() -> None:
    state = resolved_on_the_safety_path()
    events = state.reopen(DESK, "wrong level", ["assess"], NOW)
    assert events[0].data["stages"] == [s.key for s in REPAIR.stages]
    assert statuses(state)["assess"] == "running"
    assert state.tasks["assess"].round == 2
    assert state.tasks["assess"].chosen is None
    assert all(statuses(state)[k] == "pending" for k in ("safety", "fix", "chase"))
    state.service_completed("assess", {"level": 1}, NOW)
    assert statuses(state)["fix"] == "open"
    assert statuses(state)["safety"] == "skipped"


def test_reopening_by_default_reruns_the_ends_on_the_path_taken() -> None:
    state = resolved_on_the_safety_path()
    events = state.reopen(DESK, "again", None, NOW)
    assert events[0].data["stages"] == ["handover"]  # `chase` was never on the path
    assert statuses(state)["handover"] == "running"
    assert state.tasks["handover"].child is None


def test_reopening_a_stage_that_was_skipped_is_refused() -> None:
    state = resolved_on_the_safety_path()
    with pytest.raises(TicketRuleError) as info:
        state.reopen(DESK, "again", ["fix"], NOW)
    assert info.value.kind == "conflict"


def test_cancel_cancels_running_stages_and_their_clocks() -> None:
    state = start(REPAIR)
    sync_clocks(state, NOW)
    state.cancel(RITA, "never mind", NOW + HOUR / 2)
    sync_clocks(state, NOW + HOUR / 2)
    assert state.tasks["assess"].status == TaskStatus.CANCELLED
    assert state.clocks[stage_clock_id("assess")].state() == ClockState.CANCELLED
    assert state.waits_for("external_update", {"order": "PO-7"}) == []


def test_a_service_stage_clock_counts_through_failure_and_a_skipped_stage_never_starts_one() -> (
    None
):
    definition = process(
        stage(
            "call",
            kind="service",
            service=service(),
            sla={"target": "PT1H"},
            gateway=exclusive(("never", "false"), default="after"),
        ),
        stage("never", sla={"target": "PT1H"}),
        stage("after"),
    )
    state = start(definition)
    sync_clocks(state, NOW)
    state.service_failed("call", "boom", 3, NOW + HOUR / 2)
    sync_clocks(state, NOW + HOUR / 2)
    assert state.clocks[stage_clock_id("call")].state() == ClockState.RUNNING
    state.claim("call", DESK, NOW + HOUR / 2)
    state.complete("call", DESK, {"decision": "retry"}, NOW + HOUR / 2)
    state.service_completed("call", {}, NOW + 2 * HOUR)
    sync_clocks(state, NOW + 2 * HOUR)
    assert state.clocks[stage_clock_id("call")].state() == ClockState.BREACHED
    assert statuses(state)["never"] == "skipped"
    assert stage_clock_id("never") not in state.clocks
