"""What-if: a recorded ticket's SLA clocks and triage routing re-run against another definition.

Pure: the recorded timeline is read, never changed. Each clock the ticket started is counted
again over the same instants (started, waits, priority changes, restarts, stops) with the other
policy's target, calendar, pausing reasons and ladder; the recorded `sla_breached` and
`sla_rung_fired` events are what happened, the re-run is what would have.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from domain.calendars import BusinessCalendar
from domain.definitions import ProcessDefinition
from domain.sla import Priority, SlaClock, SlaPolicy
from domain.sla_clocks import calendar_of, policies
from domain.ticket import TicketEvent

# A clock and its round, as the sla_* events name them.
ClockKey = tuple[str, int]
# One rung of one clock round: (clock, round, rung index).
RungKey = tuple[str, int, int]


class Outcome(BaseModel):
    """What a ticket's clocks and triage did (recorded) or would do (re-run)."""

    breaches: set[ClockKey] = Field(default_factory=set)
    rungs: set[RungKey] = Field(default_factory=set)
    routed_to: str | None = Field(default=None, description="The team triage routed to.")


class TicketDifference(BaseModel):
    """How one ticket would have gone otherwise; empty lists mean no change."""

    key: str
    breaches_gained: list[str] = Field(default_factory=list)
    breaches_lost: list[str] = Field(default_factory=list)
    escalations_gained: list[str] = Field(default_factory=list)
    escalations_lost: list[str] = Field(default_factory=list)
    routed_before: str | None = None
    routed_after: str | None = None

    @property
    def routing_changed(self) -> bool:
        """Whether triage would have routed elsewhere (or to the dispatcher instead)."""
        return self.routed_before != self.routed_after

    @property
    def changed(self) -> bool:
        """Whether anything would have gone otherwise."""
        return bool(
            self.breaches_gained
            or self.breaches_lost
            or self.escalations_gained
            or self.escalations_lost
            or self.routing_changed
        )


class WhatIfReport(BaseModel):
    """Per ticket that would change, and the totals over every ticket re-run."""

    tickets_checked: int
    tickets: list[TicketDifference]
    breaches_gained: int
    breaches_lost: int
    escalations_gained: int
    escalations_lost: int
    routing_changes: int


def with_calendar(definition: ProcessDefinition, calendar: BusinessCalendar) -> ProcessDefinition:
    """The definition with every SLA (ticket and stages) counting on this calendar."""
    ref = f"{calendar.key}@{calendar.version}"

    def moved(policy: SlaPolicy | None) -> SlaPolicy | None:
        return None if policy is None else policy.model_copy(update={"calendar": ref})

    stages = [s.model_copy(update={"sla": moved(s.sla)}) for s in definition.stages]
    return definition.model_copy(
        update={
            "sla": moved(definition.sla),
            "stages": stages,
            "calendars": {**definition.calendars, ref: calendar},
        }
    )


def initial_priority(events: Sequence[TicketEvent], current: Priority) -> Priority:
    """The priority the ticket was filed with: the first change's `from`, else the current."""
    for event in events:
        if event.type == "priority_changed":
            found: Priority = event.data["from"]
            return found
    return current


def recorded_outcome(events: Iterable[TicketEvent]) -> Outcome:
    """What the recorded timeline shows: its breaches, fired rungs and triage routing."""
    outcome = Outcome()
    for event in events:
        data = event.data
        if event.type == "sla_breached":
            outcome.breaches.add((data["clock"], data["round"]))
        elif event.type == "sla_rung_fired":
            outcome.rungs.add((data["clock"], data["round"], data["rung"]))
        elif event.type == "triaged":
            outcome.routed_to = data.get("team")
    return outcome


class _Run:
    """One clock round counted again under another policy."""

    def __init__(self, clock: SlaClock, policy: SlaPolicy, calendar: BusinessCalendar) -> None:
        self.clock, self.policy, self.calendar = clock, policy, calendar

    def fire_until(self, now: datetime, outcome: Outcome) -> None:
        """Record the breach and the rungs a running clock reaches by `now`."""
        clock = self.clock
        deadline = clock.deadline(self.calendar)
        if clock.breached_at is None and deadline is not None and deadline <= now:
            clock.breached_at = deadline
        for i, rung in enumerate(self.policy.ladder):
            at = clock.instant_of(self.calendar, rung.offset(clock.target))
            if i not in clock.fired and at is not None and at <= now:
                clock.fired.append(i)
                outcome.rungs.add((clock.id, clock.round, i))
        if clock.breached_at is not None:
            outcome.breaches.add((clock.id, clock.round))


def rerun_outcome(
    events: Sequence[TicketEvent],
    definition: ProcessDefinition,
    priority: Priority,
    as_of: datetime,
) -> Outcome:
    """What the ticket's clocks and triage would have done under `definition`.

    `priority` is the ticket's initial priority; `as_of` is when clocks still running are
    judged (the end of the re-run).
    """
    by_clock = {
        clock_id: (stage, policy, milestone)
        for clock_id, stage, policy, milestone in policies(definition)
    }
    outcome = Outcome()
    runs: dict[str, _Run] = {}
    waiting: str | None = None
    for event in events:
        for run in runs.values():
            run.fire_until(event.at, outcome)
        data = event.data
        if event.type == "priority_changed":
            priority = data["to"]
            for run in runs.values():
                run.clock.target = run.policy.target_for(priority)
        elif event.type == "waiting_started":
            waiting = data.get("reason")
            for run in runs.values():
                if run.clock.running_since is not None and waiting in run.policy.pause_when:
                    run.clock.pause(run.calendar, event.at)
        elif event.type == "waiting_ended":
            waiting = None
            for run in runs.values():
                if run.clock.paused_since is not None and run.clock.stopped_at is None:
                    run.clock.resume(run.calendar, event.at)
        elif event.type == "sla_started" and data["clock"] in by_clock:
            stage, policy, milestone = by_clock[data["clock"]]
            calendar = calendar_of(definition, policy.calendar)
            clock = SlaClock(
                id=data["clock"],
                stage=stage,
                round=data["round"],
                milestone=milestone,
                calendar=policy.calendar,
                target=policy.target_for(priority),
                started_at=event.at,
                running_since=event.at,
            )
            if waiting is not None and waiting in policy.pause_when:
                clock.pause(calendar, event.at)
            runs[clock.id] = _Run(clock, policy, calendar)
        elif event.type == "sla_restarted" and data["clock"] in runs:
            restarted = runs[data["clock"]].clock
            restarted.stopped_at, restarted.running_since = None, event.at
        elif event.type == "sla_stopped" and data["clock"] in runs:
            run = runs[data["clock"]]
            if run.clock.stopped_at is None:
                run.clock.stop(run.calendar, event.at, cancelled=data.get("outcome") == "cancelled")
                if run.clock.breached_at is not None:
                    outcome.breaches.add((run.clock.id, run.clock.round))
        elif event.type == "triaged":
            outcome.routed_to = _routed(definition, data)
    for run in runs.values():
        if run.clock.stopped_at is None:
            run.fire_until(as_of, outcome)
    return outcome


def _routed(definition: ProcessDefinition, data: dict[str, Any]) -> str | None:
    """The team triage would route to under this definition's threshold and teams."""
    settings = definition.triage
    result = data.get("result")
    if settings is None or not isinstance(result, dict):
        return None
    team = result.get("team")
    confidence = float(result.get("confidence") or 0.0)
    if result.get("model_version") is None or not isinstance(team, str):
        return None
    # Not routed although sure enough then: a dispatcher had decided first, which stands.
    if not data.get("routed") and confidence >= float(data.get("threshold", 1.0)):
        return None
    listed = not settings.teams or team in settings.teams
    return team if confidence >= settings.threshold and listed else None


def _clock_label(key: ClockKey) -> str:
    return f"{key[0]} (round {key[1]})"


def _rung_label(key: RungKey) -> str:
    return f"{key[0]} (round {key[1]}) rung {key[2]}"


def compare(key: str, recorded: Outcome, rerun: Outcome) -> TicketDifference:
    """The difference between what happened and what would have."""
    return TicketDifference(
        key=key,
        breaches_gained=[_clock_label(k) for k in sorted(rerun.breaches - recorded.breaches)],
        breaches_lost=[_clock_label(k) for k in sorted(recorded.breaches - rerun.breaches)],
        escalations_gained=[_rung_label(k) for k in sorted(rerun.rungs - recorded.rungs)],
        escalations_lost=[_rung_label(k) for k in sorted(recorded.rungs - rerun.rungs)],
        routed_before=recorded.routed_to,
        routed_after=rerun.routed_to,
    )


def report(differences: Sequence[TicketDifference]) -> WhatIfReport:
    """Totals over every ticket re-run; only tickets that would change are listed."""
    return WhatIfReport(
        tickets_checked=len(differences),
        tickets=[d for d in differences if d.changed],
        breaches_gained=sum(len(d.breaches_gained) for d in differences),
        breaches_lost=sum(len(d.breaches_lost) for d in differences),
        escalations_gained=sum(len(d.escalations_gained) for d in differences),
        escalations_lost=sum(len(d.escalations_lost) for d in differences),
        routing_changes=sum(d.routing_changed for d in differences),
    )
