"""TicketState transitions, one table row each, and the rules of a ticket's life."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from domain.sla import ClockState
from domain.sla_clocks import SLA_ACTOR, calendar_of, fire_due, next_due, pause, resume, sync_clocks
from domain.ticket import (
    ErrorKind,
    TaskStatus,
    TicketEvent,
    TicketRuleError,
    TicketState,
    TicketStatus,
)
from domain.triage import DuplicateReportInput
from domain.triage_routing import record_duplicate
from policies.event_shapes import EVENT_SHAPES
from tests.domain.tickets import CARA, DANA, LEO, NOW, RITA, ROOT, new_ticket

HOUR = timedelta(hours=1)


def claimed() -> TicketState:
    """A ticket whose first stage Dana has claimed."""
    state = new_ticket()
    state.claim("work", DANA, NOW)
    return state


def worked() -> TicketState:
    """A ticket whose first stage is done, the second open."""
    state = claimed()
    state.complete("work", DANA, {}, NOW)
    state.open_ready_tasks(NOW)
    return state


def resolved() -> TicketState:
    """A ticket whose stages are all done."""
    state = worked()
    state.claim("check", DANA, NOW)
    state.complete("check", DANA, {}, NOW)
    state.open_ready_tasks(NOW)
    return state


def escalated() -> TicketState:
    """A ticket an hour old: the ladder opened a follow-up for the CTO's office."""
    state = new_ticket()
    fire_due(state, NOW + HOUR)
    return state


def _types(events: list[TicketEvent] | TicketEvent | None) -> list[str]:
    if events is None:
        return []
    return [e.type for e in (events if isinstance(events, list) else [events])]


Transition = Callable[[TicketState], list[TicketEvent] | TicketEvent | None]

# (name, the state before, the transition, the event types it appends, what it changed)
TRANSITIONS: list[
    tuple[str, Callable[[], TicketState], Transition, list[str], Callable[[TicketState], bool]]
] = [
    (
        "claim",
        new_ticket,
        lambda s: s.claim("work", DANA, NOW),
        ["task_claimed"],
        lambda s: (
            (s.tasks["work"].status, s.tasks["work"].assignee) == (TaskStatus.CLAIMED, "dana")
        ),
    ),
    (
        "claim again",
        claimed,
        lambda s: s.claim("work", DANA, NOW),
        [],
        lambda s: s.tasks["work"].assignee == "dana",
    ),
    (
        "unclaim",
        claimed,
        lambda s: s.unclaim("work", DANA, NOW),
        ["task_unclaimed"],
        lambda s: (s.tasks["work"].status, s.tasks["work"].assignee) == (TaskStatus.OPEN, None),
    ),
    (
        "complete",
        claimed,
        lambda s: s.complete("work", DANA, {"note": "done"}, NOW),
        ["task_completed"],
        lambda s: s.tasks["work"].data == {"note": "done"},
    ),
    (
        "open ready tasks",
        lambda: (lambda s: (s.complete("work", DANA, {}, NOW), s)[1])(claimed()),
        lambda s: s.open_ready_tasks(NOW),
        ["task_opened"],
        lambda s: s.tasks["check"].status == TaskStatus.OPEN,
    ),
    (
        "resolve",
        lambda: (lambda s: (s.complete("check", DANA, {}, NOW), s)[1])(
            (lambda s: (s.claim("check", DANA, NOW), s)[1])(worked())
        ),
        lambda s: s.open_ready_tasks(NOW),
        ["resolved"],
        lambda s: s.status == TicketStatus.RESOLVED and s.resolved_at == NOW,
    ),
    (
        "reassign to a group",
        claimed,
        lambda s: s.reassign("work", DANA, "l2", None, "network", NOW),
        ["task_reassigned"],
        lambda s: (s.tasks["work"].group, s.tasks["work"].status) == ("l2", TaskStatus.OPEN),
    ),
    (
        "reassign to a person",
        new_ticket,
        lambda s: s.reassign("work", DANA, None, "dora", "hers", NOW),
        ["task_reassigned"],
        lambda s: s.tasks["work"].assignee == "dora",
    ),
    (
        "reassign overdue",
        claimed,
        lambda s: s.reassign_overdue("work", SLA_ACTOR, "l2", "late", NOW),
        ["task_reassigned"],
        lambda s: (s.tasks["work"].group, s.tasks["work"].assignee) == ("l2", None),
    ),
    (
        "route",
        claimed,
        lambda s: s.route(["work", "check"], "net", ("desk",), "triage", NOW),
        ["task_routed", "task_routed"],
        lambda s: s.tasks["work"].group == s.tasks["check"].group == "net",
    ),
    (
        "open a follow-up",
        new_ticket,
        lambda s: s.open_followup("cto", "Follow up", "ticket", SLA_ACTOR, NOW),
        ["task_opened"],
        lambda s: list(s.followups) == ["F1"] and s.followups["F1"].kind == "followup",
    ),
    (
        "withdraw a follow-up",
        escalated,
        lambda s: s.withdraw("F1", DANA, "the vendor answered", NOW + HOUR),
        ["task_cancelled"],
        lambda s: s.followups["F1"].status == TaskStatus.CANCELLED and not s.open_followups(),
    ),
    (
        "change priority",
        new_ticket,
        lambda s: s.change_priority("dana", "P1", "outage", NOW),
        ["priority_changed"],
        lambda s: s.priority == "P1",
    ),
    (
        "same priority",
        new_ticket,
        lambda s: s.change_priority("dana", "P3", "no change", NOW),
        [],
        lambda s: s.priority == "P3",
    ),
    (
        "start waiting",
        new_ticket,
        lambda s: s.start_waiting("dana", "supplier", "parts", NOW),
        ["waiting_started"],
        lambda s: s.waiting_for == "supplier",
    ),
    (
        "end waiting",
        lambda: (lambda s: (s.start_waiting("dana", "supplier", "", NOW), s)[1])(new_ticket()),
        lambda s: s.end_waiting("dana", "parts came", NOW),
        ["waiting_ended"],
        lambda s: s.waiting_for is None,
    ),
    (
        "comment",
        new_ticket,
        lambda s: s.comment(RITA, "any news?", False, NOW),
        ["comment_added"],
        lambda s: s.events[-1].data == {"body": "any news?", "internal": False},
    ),
    (
        "cancel",
        claimed,
        lambda s: s.cancel(RITA, "solved it myself", NOW),
        ["cancelled"],
        lambda s: (
            s.status == TicketStatus.CANCELLED
            and {t.status for t in s.tasks.values()} == {TaskStatus.CANCELLED}
        ),
    ),
    (
        "cancel while waiting with a follow-up",
        lambda: (lambda s: (s.start_waiting("dana", "supplier", "", NOW), s)[1])(escalated()),
        lambda s: s.cancel(RITA, "gone", NOW),
        ["waiting_ended", "task_cancelled", "cancelled"],
        lambda s: s.waiting_for is None and s.followups["F1"].status == TaskStatus.CANCELLED,
    ),
    (
        "reopen",
        resolved,
        lambda s: s.reopen(RITA, "still broken", None, NOW),
        ["reopened", "task_opened"],
        lambda s: s.status == TicketStatus.OPEN and s.tasks["check"].round == 2,
    ),
    (
        "confirm",
        resolved,
        lambda s: s.confirm(RITA, "thanks", NOW),
        ["closed"],
        lambda s: s.status == TicketStatus.CLOSED and s.closed_at == NOW,
    ),
    (
        "close unconfirmed",
        resolved,
        lambda s: s.close_unconfirmed(NOW),
        ["closed"],
        lambda s: s.events[-1].data == {"by": "timeout"},
    ),
    (
        "record a report",
        new_ticket,
        lambda s: s.record_report("duplicate_reported", "triage", NOW, {}, "r1"),
        ["duplicate_reported"],
        lambda s: s.report_ids == ["r1"],
    ),
    (
        "record an external event",
        new_ticket,
        lambda s: s.record_external("crm", "crm", {"x": 1}, NOW, signal_id="s1"),
        ["external_event"],
        lambda s: s.events[-1].data["signal_id"] == "s1",
    ),
]


@pytest.mark.parametrize(
    ("before", "transition", "types", "changed"),
    [row[1:] for row in TRANSITIONS],
    ids=[row[0] for row in TRANSITIONS],
)
def test_each_transition_changes_the_state_and_appends_its_events(
    before: Callable[[], TicketState],
    transition: Transition,
    types: list[str],
    changed: Callable[[TicketState], bool],
) -> None:
    state = before()
    seq = state.last_seq
    events = transition(state)
    assert _types(events) == types
    assert [e.seq for e in state.events[seq:]] == list(range(seq + 1, seq + 1 + len(types)))
    assert [e.type for e in state.events[seq:]] == types
    assert set(types) <= set(EVENT_SHAPES)
    assert changed(state)


# (name, the state before, the refused transition, the kind of refusal)
REFUSALS: list[tuple[str, Callable[[], TicketState], Transition, ErrorKind]] = [
    ("claim another group's task", new_ticket, lambda s: s.claim("work", LEO, NOW), "forbidden"),
    ("claim a pending task", new_ticket, lambda s: s.claim("check", DANA, NOW), "conflict"),
    ("claim an unknown stage", new_ticket, lambda s: s.claim("nope", DANA, NOW), "not_found"),
    ("claim an unknown follow-up", new_ticket, lambda s: s.claim("F9", ROOT, NOW), "not_found"),
    (
        "claim a claimed task",
        claimed,
        lambda s: s.claim("work", DANA.model_copy(update={"user": "dora"}), NOW),
        "conflict",
    ),
    ("unclaim an open task", new_ticket, lambda s: s.unclaim("work", DANA, NOW), "conflict"),
    ("complete unclaimed", new_ticket, lambda s: s.complete("work", DANA, {}, NOW), "conflict"),
    (
        "reassign to nobody",
        claimed,
        lambda s: s.reassign("work", DANA, None, None, "", NOW),
        "invalid",
    ),
    ("cancel a closed ticket", lambda: _closed(), lambda s: s.cancel(RITA, "", NOW), "conflict"),
    (
        "comment on a closed one",
        lambda: _closed(),
        lambda s: s.comment(RITA, "", False, NOW),
        "conflict",
    ),
    ("withdraw a stage", new_ticket, lambda s: s.withdraw("work", DANA, "", NOW), "invalid"),
    (
        "withdraw another's follow-up",
        escalated,
        lambda s: s.withdraw("F1", LEO, "", NOW),
        "forbidden",
    ),
    (
        "withdraw a done follow-up",
        lambda: (lambda s: (s.claim("F1", CARA, NOW), s.complete("F1", CARA, {}, NOW), s)[2])(
            escalated()
        ),
        lambda s: s.withdraw("F1", CARA, "", NOW),
        "conflict",
    ),
    ("reopen an open ticket", new_ticket, lambda s: s.reopen(RITA, "", None, NOW), "conflict"),
    ("confirm an open ticket", new_ticket, lambda s: s.confirm(RITA, "", NOW), "conflict"),
    ("confirm another's ticket", resolved, lambda s: s.confirm(DANA, "", NOW), "forbidden"),
    (
        "claim a follow-up of a closed ticket",
        lambda: _closed(escalated_first=True),
        lambda s: s.claim("F1", CARA, NOW),
        "conflict",
    ),
]


def _closed(*, escalated_first: bool = False) -> TicketState:
    state = escalated() if escalated_first else new_ticket()
    state.cancel(RITA, "not needed", NOW)
    return state


@pytest.mark.parametrize(
    ("before", "transition", "kind"),
    [row[1:] for row in REFUSALS],
    ids=[row[0] for row in REFUSALS],
)
def test_a_refused_transition_changes_nothing(
    before: Callable[[], TicketState], transition: Transition, kind: ErrorKind
) -> None:
    state = before()
    dumped = state.model_dump(mode="json")
    with pytest.raises(TicketRuleError) as refused:
        transition(state)
    assert refused.value.kind == kind
    assert state.model_dump(mode="json") == dumped


# -- follow-ups -------------------------------------------------------------------------------


def test_an_escalation_opens_a_follow_up_with_its_own_id_in_its_own_collection() -> None:
    state = escalated()
    assert list(state.tasks) == ["work", "check"]
    followup = state.followups["F1"]
    assert (followup.kind, followup.group, followup.clock, followup.stage_key) == (
        "followup",
        "cto",
        "ticket",
        "F1",
    )
    opened = next(e for e in state.events if e.type == "task_opened" and e.actor == SLA_ACTOR)
    assert opened.data["kind"] == "followup"
    assert opened.data["escalation"] == "ticket"
    assert "cto" in state.active_groups()
    assert followup in state.snapshot().tasks
    # The id the follow-up was claimed by before it had one (recorded histories use it).
    assert state.task("esc-ticket-1-0") is followup


def test_an_open_follow_up_holds_the_resolution_back_until_it_is_done() -> None:
    state = escalated()
    for stage in ("work", "check"):
        state.claim(stage, DANA, NOW + HOUR)
        state.complete(stage, DANA, {}, NOW + HOUR)
        state.open_ready_tasks(NOW + HOUR)
    assert state.status == TicketStatus.OPEN
    state.claim("F1", CARA, NOW + HOUR)
    state.complete("F1", CARA, {"note": "vendor called"}, NOW + HOUR)
    assert _types(state.open_ready_tasks(NOW + HOUR)) == ["resolved"]


def test_a_withdrawn_follow_up_lets_the_ticket_resolve() -> None:
    state = escalated()
    for stage in ("work", "check"):
        state.claim(stage, DANA, NOW + HOUR)
        state.complete(stage, DANA, {}, NOW + HOUR)
        state.open_ready_tasks(NOW + HOUR)
    assert state.status == TicketStatus.OPEN
    events = state.withdraw("F1", DANA, "the vendor answered", NOW + HOUR)
    assert _types(events) == ["task_cancelled", "resolved"]


@pytest.mark.parametrize("end", ["cancel", "confirm", "close_unconfirmed"])
def test_a_final_ticket_leaves_no_follow_up_in_a_queue(end: str) -> None:
    state = escalated()
    if end == "cancel":
        state.cancel(RITA, "gone", NOW + HOUR)
    else:
        # A follow-up opened before this rule existed, still open when its ticket resolved.
        state = resolved()
        state.open_followup("cto", "Follow up", "ticket", SLA_ACTOR, NOW)
        getattr(state, end)(*([RITA, "ok"] if end == "confirm" else []), NOW + HOUR)
    assert state.followups["F1"].status == TaskStatus.CANCELLED
    assert "cto" not in state.active_groups()
    cancelled = next(e for e in state.events if e.type == "task_cancelled")
    assert cancelled.data["stage"] == "F1"
    with pytest.raises(TicketRuleError):
        state.claim("F1", CARA, NOW + HOUR)


def test_the_sla_reassigns_with_the_same_transition_as_a_person() -> None:
    by_sla = claimed()
    fire_due(by_sla, NOW + 2 * HOUR)
    by_person = claimed()
    by_person.reassign("work", DANA, "l2", None, "network", NOW)
    sla_event = next(e for e in by_sla.events if e.type == "task_reassigned")
    person_event = by_person.events[-1]
    assert sla_event.actor == SLA_ACTOR
    assert set(sla_event.data) == set(person_event.data)
    assert (
        sla_event.data["before"]
        == person_event.data["before"]
        == {
            "group": "desk",
            "assignee": "dana",
        }
    )
    assert by_sla.tasks["work"].model_dump(exclude={"claimed_at"}) == by_person.tasks[
        "work"
    ].model_dump(exclude={"claimed_at"})


def test_follow_up_ids_never_collide_with_stage_keys_or_each_other() -> None:
    state = new_ticket()
    for _ in range(3):
        state.open_followup("cto", "Follow up", "ticket", SLA_ACTOR, NOW)
    assert list(state.followups) == ["F1", "F2", "F3"]
    assert not set(state.followups) & set(state.tasks)
    assert len({t.id for t in state.all_tasks()}) == len(state.all_tasks())


def test_a_state_carried_over_by_an_older_version_keeps_its_follow_up() -> None:
    state = escalated()
    old = state.model_dump(mode="json", exclude={"followups", "report_ids"})
    old["tasks"]["esc-ticket-1-0"] = {
        **state.followups["F1"].model_dump(mode="json", exclude={"kind", "legacy_key"}),
        "stage_key": "esc-ticket-1-0",
    }
    carried = TicketState.model_validate(old)
    assert list(carried.tasks) == ["work", "check"]
    assert carried.followups["esc-ticket-1-0"].kind == "followup"
    assert carried.task("esc-ticket-1-0").group == "cto"


# -- waiting, clocks and the ticket's end ---------------------------------------------------------


@pytest.mark.parametrize("end", ["cancel", "confirm", "close_unconfirmed"])
def test_a_final_ticket_ends_its_wait(end: str) -> None:
    state = claimed()
    pause(state, DANA, "supplier", "parts ordered", NOW)
    if end != "cancel":
        for stage in ("work", "check"):
            state.claim(stage, DANA, NOW)
            state.complete(stage, DANA, {}, NOW)
            state.open_ready_tasks(NOW)
        assert state.status == TicketStatus.RESOLVED
    call: dict[str, Callable[[], Any]] = {
        "cancel": lambda: state.cancel(RITA, "gone", NOW + HOUR),
        "confirm": lambda: state.confirm(RITA, "thanks", NOW + HOUR),
        "close_unconfirmed": lambda: state.close_unconfirmed(NOW + HOUR),
    }
    events = call[end]()
    sync_clocks(state, NOW + HOUR)
    assert _types(events)[0] == "waiting_ended"
    assert events[0].data["reason"] == "supplier"
    assert state.waiting_for is None
    assert state.snapshot().waiting_for is None
    assert all(c.stopped_at is not None for c in state.clocks.values())


def test_a_cancelled_ticket_s_clocks_are_cancelled_not_met() -> None:
    state = claimed()
    state.cancel(RITA, "gone", NOW + HOUR)
    stopped = [e for e in sync_clocks(state, NOW + HOUR) if e.type == "sla_stopped"]
    assert {e.data["outcome"] for e in stopped} == {"cancelled"}
    assert {c.state() for c in state.clocks.values()} == {ClockState.CANCELLED}


def test_a_clock_breached_before_the_ticket_was_cancelled_stays_breached() -> None:
    state = new_ticket()
    fire_due(state, NOW + 5 * HOUR)
    state.cancel(RITA, "gone", NOW + 5 * HOUR)
    sync_clocks(state, NOW + 5 * HOUR)
    assert state.clocks["ticket"].state() == ClockState.BREACHED


def test_a_resolved_ticket_s_clocks_are_met() -> None:
    state = resolved()
    sync_clocks(state, NOW)
    assert {c.state() for c in state.clocks.values()} == {ClockState.MET}


def test_a_paused_clock_does_not_breach_however_long_the_wait() -> None:
    state = new_ticket()
    pause(state, DANA, "customer", "need logs", NOW + timedelta(minutes=30))
    clock = state.clocks["ticket"]
    assert clock.state() == ClockState.PAUSED
    # The stage clock (it does not pause for the customer) is all that is still due.
    assert next_due(state) == NOW + 2 * HOUR
    much_later = NOW + timedelta(days=30)
    fired = fire_due(state, much_later)
    assert not [e for e in fired.events if e.type == "sla_breached" and e.data["clock"] == "ticket"]
    assert clock.state() == ClockState.PAUSED
    assert clock.elapsed == timedelta(minutes=30)
    resume(state, RITA, "sent", much_later)
    # It counts on with the business time it had left.
    assert clock.deadline(calendar_of(state.definition, clock.calendar)) == (
        much_later + 4 * HOUR - timedelta(minutes=30)
    )


# -- events ---------------------------------------------------------------------------------


def test_the_created_event_says_the_priority() -> None:
    state = new_ticket(priority="P2")
    assert state.events[0].type == "created"
    assert state.events[0].data["priority"] == "P2"


def test_a_duplicate_report_is_kept_once_after_continue_as_new() -> None:
    state = new_ticket()
    report = DuplicateReportInput(requester="sam", excerpt={"title": "me too"}, report_id="r-1")
    assert record_duplicate(state, report, NOW) is not None
    for i in range(60):  # more events than continue-as-new carries over
        state.comment(DANA, f"note {i}", True, NOW)
    carried = TicketState.model_validate_json(
        state.model_copy(update={"events": state.events[-50:]}).model_dump_json()
    )
    assert record_duplicate(carried, report, NOW) is None
    assert carried.report_ids == ["r-1"]


def test_a_state_carried_over_before_report_ids_keeps_the_ids_it_carried() -> None:
    state = new_ticket()
    record_duplicate(state, DuplicateReportInput(requester="sam", report_id="r-1"), NOW)
    old = state.model_dump(mode="json", exclude={"report_ids"})
    carried = TicketState.model_validate(old)
    assert carried.report_ids == ["r-1"]
    assert (
        record_duplicate(carried, DuplicateReportInput(requester="sam", report_id="r-1"), NOW)
        is None
    )
