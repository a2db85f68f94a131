"""SLA clocks and policies: pauses, retargeting, ladder checks (properties with hypothesis)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.calendars import ALWAYS_CALENDAR, BusinessCalendar, business_between
from domain.sla import ClockState, Rung, RungAction, SlaClock, SlaPolicy, policy_problems
from tests.domain.test_calendars import CN, DE

instants = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2026, 12, 31), timezones=st.just(UTC)
)
gaps = st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=6))
targets = st.timedeltas(min_value=timedelta(minutes=1), max_value=timedelta(hours=60))
calendars = st.sampled_from([CN, DE, ALWAYS_CALENDAR])


def clock(start: datetime, target: timedelta) -> SlaClock:
    """A clock running since `start`."""
    return SlaClock(id="ticket", target=target, started_at=start, running_since=start)


@settings(max_examples=300, deadline=None)
@given(calendar=calendars, start=instants, target=targets, g1=gaps, g2=gaps, g3=gaps)
def test_a_pause_never_shortens_the_remaining_time(
    calendar: BusinessCalendar,
    start: datetime,
    target: timedelta,
    g1: timedelta,
    g2: timedelta,
    g3: timedelta,
) -> None:
    paused_at, resumed_at = start + g1, start + g1 + g2
    later = resumed_at + g3
    plain, held = clock(start, target), clock(start, target)
    held.pause(calendar, paused_at)
    held.resume(calendar, resumed_at)
    assert held.elapsed_at(calendar, later) <= plain.elapsed_at(calendar, later)
    held_deadline, plain_deadline = held.deadline(calendar), plain.deadline(calendar)
    assert held_deadline is not None
    assert plain_deadline is not None
    assert held_deadline >= plain_deadline
    # The business time counted plus the business time paused is all the business time.
    counted = held.elapsed_at(calendar, later) + held.paused_at(calendar, later)
    assert counted == plain.elapsed_at(calendar, later)


@settings(max_examples=200, deadline=None)
@given(calendar=calendars, start=instants, t1=targets, t2=targets, g=gaps)
def test_retargeting_keeps_the_elapsed_time(
    calendar: BusinessCalendar, start: datetime, t1: timedelta, t2: timedelta, g: timedelta
) -> None:
    c = clock(start, t1)
    now = start + g
    c.pause(calendar, now)
    c.resume(calendar, now)
    elapsed = c.elapsed_at(calendar, now)
    c.target = t2
    deadline = c.deadline(calendar)
    assert deadline is not None
    if t2 > elapsed:
        assert business_between(calendar, now, deadline) == t2 - elapsed


def test_a_stop_after_the_target_is_a_breach_and_before_it_is_met() -> None:
    start = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
    early, late = clock(start, timedelta(hours=4)), clock(start, timedelta(hours=4))
    early.stop(ALWAYS_CALENDAR, start + timedelta(hours=3))
    late.stop(ALWAYS_CALENDAR, start + timedelta(hours=5))
    assert early.state() == ClockState.MET
    assert late.state() == ClockState.BREACHED
    assert late.elapsed == timedelta(hours=5)


def notify(*recipients: str) -> RungAction:
    """A notify action."""
    return RungAction(type="notify", recipients=list(recipients))


def test_a_policy_lists_every_problem_with_its_pointer() -> None:
    policy = SlaPolicy(
        target=timedelta(hours=-1),
        targets={"P1": timedelta(0), "P2": timedelta(hours=8)},
        pause_when=["Waiting For Customer"],
        ladder=[
            Rung(at_fraction=0.8, actions=[notify("group:ops")]),
            Rung(at_fraction=0.5, actions=[notify("everyone")]),
            Rung(at_fraction=1.0, after=timedelta(hours=1), actions=[]),
            Rung(after=timedelta(hours=2), actions=[RungAction(type="reassign")]),
        ],
    )
    found = {p.pointer for p in policy_problems(policy, ("sla",), stage=False)}
    assert found == {
        "/sla/target",
        "/sla/targets/P1",
        "/sla/pause_when/0",
        "/sla/ladder/1",  # out of order
        "/sla/ladder/1/actions/0/recipients/0",
        "/sla/ladder/2",
        "/sla/ladder/2/actions",
        "/sla/ladder/3/actions/0/group",
        "/sla/ladder/3/actions/0/type",  # reassign on the ticket's joint clock
    }


def test_ladder_order_is_checked_for_every_priority() -> None:
    policy = SlaPolicy(
        targets={"P1": timedelta(hours=4), "P2": timedelta(hours=8)},
        ladder=[
            Rung(after=timedelta(hours=3), actions=[notify("assignee")]),
            Rung(at_fraction=0.5, actions=[notify("requester")]),
        ],
    )
    problems = policy_problems(policy, (), stage=True)
    assert [p.pointer for p in problems] == ["/ladder/1"]
    assert "priority P1" in problems[0].detail
    assert (
        policy_problems(
            policy.model_copy(update={"targets": {"P2": timedelta(hours=8)}}), (), stage=True
        )
        == []
    )
