"""Sentiment as data: which scores propose an expedite, when records are purged, and the
expedite proposal on a ticket (proposed by the model, decided only by a person)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.sentiment import LABELS, RETENTION, proposes_expedite, purge_due
from domain.sla_clocks import sync_clocks
from domain.ticket import Actor, TaskStatus, TicketRuleError, TicketState, TicketStatus
from tests.domain.tickets import DANA, NOW, RITA, ROOT, new_ticket

SUE = Actor(user="sue", department="care-supervisors", role="agent")
GROUP = "care-supervisors"


@pytest.mark.parametrize(
    ("label", "confidence", "threshold", "proposes"),
    [
        ("angry", 0.9, 0.5, True),
        ("anxious", 0.5, 0.5, True),  # at the threshold
        ("anxious", 0.49, 0.5, False),
        ("negative", 0.99, 0.5, False),  # unhappy, not a state to expedite on
        ("positive", 1.0, 0.0, False),
        ("neutral", 1.0, 0.0, False),
        ("angry", 0.0, 0.0, True),
    ],
)
def test_only_angry_or_anxious_scores_sure_enough_propose(
    label: str, confidence: float, threshold: float, proposes: bool
) -> None:
    assert proposes_expedite(label, confidence, threshold) is proposes


def test_the_labels_include_the_service_states() -> None:
    assert {"positive", "neutral", "negative", "angry", "anxious"} == set(LABELS)


@pytest.mark.parametrize(
    "taken_at",
    [
        datetime(2026, 12, 1, 9, 0, tzinfo=UTC),
        datetime(2027, 2, 27, 23, 59, tzinfo=UTC),  # across the end of February
        datetime(2028, 2, 29, 0, 0, tzinfo=UTC),
    ],
)
def test_a_record_is_purged_thirty_days_after_it_was_taken(taken_at: datetime) -> None:
    assert timedelta(days=30) == RETENTION
    assert purge_due(taken_at) - taken_at == timedelta(days=30)


def proposed(state: TicketState, record: int = 1) -> str:
    event = state.propose_expedite(record, GROUP, NOW)
    assert event is not None
    assert event.actor == "sentiment"  # the model's, never a person's
    return str(event.data["proposal"])


def test_a_proposal_changes_nothing_until_a_person_confirms() -> None:
    state = new_ticket()
    before = (state.priority, len(state.followups))
    proposal = proposed(state)
    assert (state.priority, len(state.followups)) == before
    assert state.expedites[proposal].status == "proposed"
    assert (state.expedites[proposal].priority_from, state.expedites[proposal].priority_to) == (
        "P3",
        "P2",
    )
    events = state.decide_expedite(proposal, SUE, "confirm", "customer is furious", NOW)
    assert [e.type for e in events] == ["expedite_confirmed", "priority_changed", "task_opened"]
    assert state.priority == "P2"
    [task] = [t for t in state.followups.values() if t.group == GROUP]
    assert task.status == TaskStatus.OPEN
    assert events[-1].data["expedite"] == proposal
    assert state.expedites[proposal].task == task.stage_key
    assert state.expedites[proposal].decided_by == "sue"
    # The supervisor's task holds the resolution back like any follow-up.
    assert task in state.open_followups()


def test_a_declined_proposal_leaves_priority_and_tasks_as_they_were() -> None:
    state = new_ticket()
    proposal = proposed(state)
    events = state.decide_expedite(proposal, SUE, "decline", "she is calm on the phone", NOW)
    assert [e.type for e in events] == ["expedite_declined"]
    assert state.priority == "P3"
    assert not state.followups
    assert state.expedites[proposal].status == "declined"


@pytest.mark.parametrize(
    ("who", "kind"),
    [
        (DANA, "forbidden"),  # an agent of another group
        (RITA, "forbidden"),
        (Actor(user="x", department=GROUP, role="requester"), None),  # the group decides
        (ROOT, None),
    ],
)
def test_only_the_supervisor_group_or_an_admin_decides(who: Actor, kind: str | None) -> None:
    state = new_ticket()
    proposal = proposed(state)
    if kind is None:
        state.check_expedite_decision(proposal, who)
        return
    with pytest.raises(TicketRuleError) as info:
        state.decide_expedite(proposal, who, "confirm", "", NOW)
    assert info.value.kind == kind
    assert state.expedites[proposal].status == "proposed"
    assert state.priority == "P3"


def test_one_proposal_waits_at_a_time_and_a_decided_one_is_not_decided_again() -> None:
    state = new_ticket()
    first = proposed(state)
    assert state.propose_expedite(2, GROUP, NOW) is None
    state.decide_expedite(first, SUE, "decline", "", NOW)
    with pytest.raises(TicketRuleError) as info:
        state.decide_expedite(first, SUE, "confirm", "", NOW)
    assert info.value.kind == "conflict"
    second = proposed(state, 2)
    assert second != first
    with pytest.raises(TicketRuleError) as missing:
        state.check_expedite_decision("E9", SUE)
    assert missing.value.kind == "not_found"


def test_a_closed_ticket_gets_no_proposal_and_none_is_decided() -> None:
    state = new_ticket()
    proposal = proposed(state)
    state.cancel(RITA, "solved elsewhere", NOW)
    assert state.status == TicketStatus.CANCELLED
    assert state.propose_expedite(3, GROUP, NOW) is None
    with pytest.raises(TicketRuleError) as info:
        state.decide_expedite(proposal, SUE, "confirm", "", NOW)
    assert info.value.kind == "conflict"


def test_a_confirmed_expedite_retargets_the_sla_clocks() -> None:
    state = new_ticket()
    assert state.clocks["ticket"].target == timedelta(hours=4)
    state.decide_expedite(proposed(state), SUE, "confirm", "", NOW)
    sync_clocks(state, NOW)
    # The ticket's P1 target is an hour; P2 has the default four: only P1 moves it.
    assert state.clocks["ticket"].target == timedelta(hours=4)
    state.decide_expedite(proposed(state, 2), SUE, "confirm", "", NOW)
    events = sync_clocks(state, NOW)
    assert state.priority == "P1"
    assert state.clocks["ticket"].target == timedelta(hours=1)
    assert "sla_retargeted" in [e.type for e in events]


def test_withdrawal_ends_only_the_waiting_proposals() -> None:
    state = new_ticket()
    decided = proposed(state)
    state.decide_expedite(decided, SUE, "decline", "", NOW)
    waiting = proposed(state, 2)
    events = state.withdraw_expedites(NOW)
    assert [(e.type, e.data["proposal"]) for e in events] == [("expedite_withdrawn", waiting)]
    assert state.expedites[decided].status == "declined"
    assert state.expedites[waiting].status == "withdrawn"
    assert state.withdraw_expedites(NOW) == []


def test_the_state_carries_its_proposals_over_continue_as_new() -> None:
    state = new_ticket()
    proposal = proposed(state)
    carried = TicketState.model_validate(state.model_dump(mode="json"))
    assert carried.expedites[proposal] == state.expedites[proposal]
    # A state carried over from before proposals existed has none.
    older = state.model_dump(mode="json")
    del older["expedites"]
    assert TicketState.model_validate(older).expedites == {}
