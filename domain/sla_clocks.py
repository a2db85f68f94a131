"""The ticket's SLA clocks: started, paused, stopped and fired from the ticket's state (pure).

`sync_clocks` brings the clocks in line with the ticket after any transition (a stage opened
or done, the ticket waiting or not, its priority changed); `next_due` says when the workflow
must wake next; `fire_due` fires what is due at an instant. Each change appends ticket events.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from domain.calendars import ALWAYS, ALWAYS_CALENDAR, BusinessCalendar
from domain.definitions import ProcessDefinition
from domain.notifications import (
    Notification,
    NotificationParts,
    NotifyInput,
    rung_body,
    rung_subject,
)
from domain.sla import (
    PRIORITIES,
    TICKET_CLOCK,
    Priority,
    Rung,
    SlaClock,
    SlaPolicy,
    raised,
)
from domain.ticket import (
    CLOCKED_TASK,
    LEGACY_FOLLOWUP_PREFIX,
    Actor,
    Task,
    TicketEvent,
    TicketRuleError,
    TicketState,
    TicketStatus,
)

SLA_ACTOR = "sla"
CHANGE_PRIORITY_ROLES = ("agent", "admin", "system")
PAUSE_ROLES = ("agent", "admin", "system")


def calendar_of(definition: ProcessDefinition, ref: str) -> BusinessCalendar:
    """The calendar a policy counts on (resolved into the definition when it was published)."""
    return ALWAYS_CALENDAR if ref == ALWAYS else definition.calendars[ref]


def stage_clock_id(stage_key: str) -> str:
    """The id of a stage's clock."""
    return f"stage:{stage_key}"


def policies(definition: ProcessDefinition) -> list[tuple[str, str | None, SlaPolicy, bool]]:
    """(clock id, stage or None, policy, milestone) for every clock the definition asks for."""
    found: list[tuple[str, str | None, SlaPolicy, bool]] = []
    if definition.sla is not None:
        found.append((TICKET_CLOCK, None, definition.sla, False))
    for stage in definition.stages:
        if stage.sla is not None:
            found.append((stage_clock_id(stage.key), stage.key, stage.sla, stage.milestone))
    return found


def policy_of(definition: ProcessDefinition, clock: SlaClock) -> SlaPolicy:
    """The policy a clock counts for."""
    for clock_id, _stage, policy, _milestone in policies(definition):
        if clock_id == clock.id:
            return policy
    raise KeyError(clock.id)


def _event(
    state: TicketState, type_: str, now: datetime, clock: SlaClock, **data: Any
) -> TicketEvent:
    body: dict[str, Any] = {"clock": clock.id, "stage": clock.stage, "round": clock.round}
    body.update(data)
    return state.record_event(type_, SLA_ACTOR, now, body)


def _deadline_text(clock: SlaClock, calendar: BusinessCalendar) -> str | None:
    deadline = clock.deadline(calendar)
    return deadline.isoformat() if deadline else None


def sync_clocks(state: TicketState, now: datetime) -> list[TicketEvent]:
    """Start, pause, resume, retarget and stop clocks to match the ticket as it stands."""
    events: list[TicketEvent] = []
    for clock_id, stage_key, policy, milestone in policies(state.definition):
        calendar = calendar_of(state.definition, policy.calendar)
        if stage_key is None:
            active, started, round_ = state.status == TicketStatus.OPEN, state.created_at, 1
        else:
            task = state.tasks[stage_key]
            # An automated stage's clock counts while it runs; a skipped stage never starts one.
            active, started, round_ = task.status in CLOCKED_TASK, task.opened_at or now, task.round
        clock = state.clocks.get(clock_id)
        if clock is None or (active and clock.round != round_):
            if not active:
                continue
            clock = SlaClock(
                id=clock_id,
                stage=stage_key,
                round=round_,
                milestone=milestone,
                calendar=policy.calendar,
                target=policy.target_for(state.priority),
                started_at=started,
                running_since=started,
            )
            state.clocks[clock_id] = clock
            events.append(
                _event(
                    state,
                    "sla_started",
                    now,
                    clock,
                    target=clock.target.total_seconds(),
                    due_at=_deadline_text(clock, calendar),
                )
            )
        if clock.stopped_at is not None and active and stage_key is None:
            # A reopened ticket: its joint clock counts on from where it stopped.
            clock.stopped_at, clock.running_since = None, now
            events.append(_event(state, "sla_restarted", now, clock))
        if clock.stopped_at is not None:
            continue
        if not active:
            clock.stop(calendar, now, cancelled=state.status == TicketStatus.CANCELLED)
            events.append(
                _event(
                    state,
                    "sla_stopped",
                    now,
                    clock,
                    outcome=clock.state().value,
                    elapsed=clock.elapsed.total_seconds(),
                    paused=clock.paused.total_seconds(),
                )
            )
            continue
        events += _retarget(state, clock, policy, calendar, now)
        waiting = state.waiting_for is not None and state.waiting_for in policy.pause_when
        if waiting and clock.paused_since is None:
            clock.pause(calendar, now)
            events.append(_event(state, "sla_paused", now, clock, reason=state.waiting_for))
        elif not waiting and clock.paused_since is not None:
            clock.resume(calendar, now)
            events.append(
                _event(state, "sla_resumed", now, clock, due_at=_deadline_text(clock, calendar))
            )
    return events


def _retarget(
    state: TicketState,
    clock: SlaClock,
    policy: SlaPolicy,
    calendar: BusinessCalendar,
    now: datetime,
) -> list[TicketEvent]:
    """A new priority's target; the business time elapsed and paused so far is kept."""
    target = policy.target_for(state.priority)
    if target == clock.target:
        return []
    before = clock.target
    clock.target = target
    return [
        _event(
            state,
            "sla_retargeted",
            now,
            clock,
            priority=state.priority,
            target_before=before.total_seconds(),
            target=target.total_seconds(),
            due_at=_deadline_text(clock, calendar),
        )
    ]


def _running(state: TicketState) -> list[tuple[SlaClock, SlaPolicy, BusinessCalendar]]:
    found = []
    for clock in state.clocks.values():
        if clock.running_since is None:
            continue
        policy = policy_of(state.definition, clock)
        found.append((clock, policy, calendar_of(state.definition, policy.calendar)))
    return found


def next_due(state: TicketState) -> datetime | None:
    """The earliest instant a running clock breaches or a rung fires; None if nothing will."""
    due: list[datetime] = []
    for clock, policy, calendar in _running(state):
        for i, rung in enumerate(policy.ladder):
            if i not in clock.fired:
                at = clock.instant_of(calendar, rung.offset(clock.target))
                if at is not None:
                    due.append(at)
        if clock.breached_at is None:
            deadline = clock.deadline(calendar)
            if deadline is not None:
                due.append(deadline)
    return min(due, default=None)


@dataclass
class Firing:
    """What firing due rungs changed: the events, and the notifications each event causes."""

    events: list[TicketEvent] = field(default_factory=list)
    notifications: list[NotifyInput] = field(default_factory=list)


@dataclass(frozen=True)
class _Due:
    """A breach (no rung) or a rung of a clock, due at `at`."""

    at: datetime
    clock: SlaClock
    index: int | None = None
    rung: Rung | None = None


def _due(state: TicketState, now: datetime) -> list[_Due]:
    """What is due at `now`, clock by clock: its breach, then its rungs in ladder order."""
    due = []
    for clock, policy, calendar in _running(state):
        deadline = clock.deadline(calendar)
        if clock.breached_at is None and deadline is not None and deadline <= now:
            due.append(_Due(deadline, clock))
        for i, rung in enumerate(policy.ladder):
            at = clock.instant_of(calendar, rung.offset(clock.target))
            if i not in clock.fired and at is not None and at <= now:
                due.append(_Due(at, clock, i, rung))
    return due


def fire_due(state: TicketState, now: datetime, *, in_due_order: bool = True) -> Firing:
    """Record breaches and fire every rung due at `now`, each once, and apply its actions.

    A clock woken late (no worker or no server for a while) finds several things due at once;
    `in_due_order` records them in the order they fell due, as clocks woken on time would (at
    one instant: clock by clock, a breach before its rungs). Without it, each clock's breach
    comes before its rungs, as runs recorded before this order did it.
    """
    firing = Firing()
    due = _due(state, now)
    if in_due_order:
        due.sort(key=lambda d: d.at)  # stable: ties keep the clock-by-clock order
    for d in due:
        if d.rung is None or d.index is None:
            d.clock.breached_at = d.at
            firing.events.append(
                _event(state, "sla_breached", now, d.clock, due_at=d.at.isoformat())
            )
        else:
            _fire_rung(state, d.clock, d.index, d.rung, d.at, now, firing)
    firing.events += sync_clocks(state, now)  # a raised priority retargets the clocks
    return firing


def _fire_rung(
    state: TicketState,
    clock: SlaClock,
    index: int,
    rung: Rung,
    at: datetime,
    now: datetime,
    firing: Firing,
) -> None:
    clock.fired.append(index)
    event = _event(
        state,
        "sla_rung_fired",
        now,
        clock,
        rung=index,
        name=rung.name,
        due_at=at.isoformat(),
        actions=[a.type for a in rung.actions],
    )
    firing.events.append(event)
    _apply_actions(state, clock, index, rung, event, now, firing)


def _subject(state: TicketState, clock: SlaClock, rung: Rung, index: int) -> str:
    # No ticket field in it: it also becomes event reasons and a follow-up task's title,
    # which people who may not read the title can see.
    return rung_subject(state.key, clock.stage, rung.name, index)


def _apply_actions(
    state: TicketState,
    clock: SlaClock,
    index: int,
    rung: Rung,
    event: TicketEvent,
    now: datetime,
    firing: Firing,
) -> None:
    task = state.tasks.get(clock.stage) if clock.stage else None
    recipients: list[str] = []
    subject = _subject(state, clock, rung, index)
    for action in rung.actions:
        if action.type == "notify":
            recipients += [_resolve(state, task, r) for r in action.recipients]
        elif action.type == "reassign" and task is not None and action.group:
            moved = state.reassign_overdue(task.stage_key, SLA_ACTOR, action.group, subject, now)
            if moved is not None:
                firing.events.append(moved)
        elif action.type == "escalate" and action.group:
            firing.events.append(
                state.open_followup(
                    action.group,
                    f"Follow up: {subject}",
                    clock.id,
                    SLA_ACTOR,
                    now,
                    legacy_key=f"{LEGACY_FOLLOWUP_PREFIX}{clock.stage or TICKET_CLOCK}"
                    f"-{clock.round}-{index}",
                )
            )
            recipients.append(f"group:{action.group}")
        elif action.type == "raise_priority":
            changed = state.change_priority(SLA_ACTOR, raised(state.priority), subject, now)
            if changed is not None:
                firing.events.append(changed)
    if recipients:
        parts = NotificationParts(
            clock=clock.id, stage=clock.stage, rung=index, rung_name=rung.name, mentions=["title"]
        )
        firing.notifications.append(
            NotifyInput(
                ticket_key=state.key,
                seq=event.seq,
                at=now,
                notifications=[
                    Notification(
                        recipient=r,
                        subject=subject,
                        body=rung_body(clock.id, index),
                        parts=parts,
                    )
                    for r in dict.fromkeys(recipients)
                ],
            )
        )


def _resolve(state: TicketState, task: Task | None, recipient: str) -> str:
    """`assignee` and `requester` become the people they name at firing time."""
    if recipient == "requester":
        return f"user:{state.requester.user}"
    if recipient == "assignee":
        if task is not None and task.assignee:
            return f"user:{task.assignee}"
        if task is not None:
            return f"group:{task.group}"
        return f"group:{state.definition.department}"
    return recipient


# -- people's changes: priority and waiting -----------------------------------------------


def check_set_priority(state: TicketState, actor: Actor, priority: str) -> Priority:
    """Agents, systems and admins set the priority of an open ticket."""
    if state.status != TicketStatus.OPEN:
        raise TicketRuleError("conflict", f"ticket {state.key} is {state.status.value}")
    if actor.role not in CHANGE_PRIORITY_ROLES:
        raise TicketRuleError("forbidden", f"role {actor.role!r} may not change the priority")
    for known in PRIORITIES:
        if known == priority:
            return known
    raise TicketRuleError("invalid", f"unknown priority {priority!r}")


def set_priority(
    state: TicketState, actor: Actor, priority: str, reason: str, now: datetime
) -> list[TicketEvent]:
    """Change the priority; clocks keep their elapsed and paused time against the new target."""
    new = check_set_priority(state, actor, priority)
    event = state.change_priority(actor.user, new, reason, now)
    if event is None:
        return []
    return [event, *sync_clocks(state, now)]


def check_pause(state: TicketState, actor: Actor) -> None:
    """Handlers (not requesters) put an open ticket on hold; it cannot wait twice."""
    if state.status != TicketStatus.OPEN:
        raise TicketRuleError("conflict", f"ticket {state.key} is {state.status.value}")
    if actor.role not in PAUSE_ROLES:
        raise TicketRuleError("forbidden", f"role {actor.role!r} may not put a ticket on hold")
    if state.waiting_for is not None:
        raise TicketRuleError(
            "conflict", f"ticket {state.key} already waits for {state.waiting_for}"
        )


def pause(
    state: TicketState, actor: Actor, reason: str, note: str, now: datetime
) -> list[TicketEvent]:
    """The ticket waits (for the customer, a supplier...); clocks pausing on it stop."""
    check_pause(state, actor)
    event = state.start_waiting(actor.user, reason, note, now)
    return [event, *sync_clocks(state, now)]


def check_resume(state: TicketState, actor: Actor) -> None:
    """Handlers end the wait; a requester may too when the ticket waits for the customer."""
    if state.waiting_for is None:
        raise TicketRuleError("conflict", f"ticket {state.key} is not waiting")
    customer = state.waiting_for == "customer" and actor.user == state.requester.user
    if actor.role not in PAUSE_ROLES and not customer:
        raise TicketRuleError("forbidden", f"role {actor.role!r} may not end this wait")


def resume(state: TicketState, actor: Actor, note: str, now: datetime) -> list[TicketEvent]:
    """The wait is over; paused clocks count again with the business time they had left."""
    check_resume(state, actor)
    return [*state.end_waiting(actor.user, note, now), *sync_clocks(state, now)]
