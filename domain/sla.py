"""SLA policies, escalation ladders and clocks: what a target is and how a clock counts it.

A clock counts business time on its calendar while it runs, stops counting while the ticket
waits in a pausing state, and stops for good when its stage (or the ticket) is done. All the
arithmetic is pure and takes the instant it is asked about, so the workflow can use it.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from domain.calendars import ALWAYS, BusinessCalendar, add_business, business_between
from domain.problems import Problem, pointer

Priority = Literal["P1", "P2", "P3", "P4"]
PRIORITIES: tuple[Priority, ...] = ("P1", "P2", "P3", "P4")
DEFAULT_PRIORITY: Priority = "P3"
RECIPIENT_PATTERN = r"^((group|role|user):[A-Za-z0-9_.@-]{1,100}|assignee|requester)$"
WAITING_PATTERN = r"^[a-z][a-z0-9_-]{0,62}$"
TICKET_CLOCK = "ticket"


def raised(priority: Priority) -> Priority:
    """One step more urgent (P1 stays P1)."""
    return PRIORITIES[max(PRIORITIES.index(priority) - 1, 0)]


class RungAction(BaseModel):
    """What a rung does: notify people, move the task, escalate to a group, raise priority."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["notify", "reassign", "escalate", "raise_priority"]
    recipients: list[str] = Field(
        default_factory=list,
        description="notify: `group:NAME`, `role:NAME`, `user:NAME`, `assignee`, `requester`.",
    )
    group: str | None = Field(
        default=None,
        max_length=100,
        description="reassign: the new group; escalate: who follows up.",
    )


class Rung(BaseModel):
    """One step of an escalation ladder: fires at a fraction of the target or after a duration."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(default="", max_length=100)
    at_fraction: float | None = Field(default=None, description="e.g. 0.5 = half the target.")
    after: timedelta | None = Field(default=None, description="Business time since the start.")
    actions: list[RungAction] = Field(default_factory=list)

    def offset(self, target: timedelta) -> timedelta:
        """Business time after the clock's start at which this rung fires."""
        if self.after is not None:
            return self.after
        return target * (self.at_fraction or 0.0)


class SlaPolicy(BaseModel):
    """A target on a business calendar, pausing states and an escalation ladder."""

    model_config = ConfigDict(extra="forbid")

    target: timedelta | None = Field(default=None, description="Business time; ISO 8601 or s.")
    targets: dict[Priority, timedelta] = Field(
        default_factory=dict, description="Per-priority targets, e.g. P1: PT4H, P2: PT8H."
    )
    calendar: str = Field(default=ALWAYS, max_length=80, description="`key@version` or `24x7`.")
    pause_when: list[str] = Field(
        default_factory=list, description="Waiting reasons that stop the clock, e.g. customer."
    )
    ladder: list[Rung] = Field(default_factory=list, max_length=20)

    def target_for(self, priority: Priority) -> timedelta:
        """The target for a ticket of this priority."""
        found = self.targets.get(priority, self.target)
        return found if found is not None else timedelta(0)


def policy_problems(policy: SlaPolicy, at: tuple[str | int, ...], *, stage: bool) -> list[Problem]:
    """Every problem of a policy: missing or non-positive targets, bad rungs, ladder order."""
    problems: list[Problem] = []
    if policy.target is None and not policy.targets:
        problems.append(Problem(pointer=pointer(*at, "target"), detail="give target or targets"))
    if policy.target is not None and policy.target <= timedelta(0):
        problems.append(
            Problem(pointer=pointer(*at, "target"), detail="the target must be positive")
        )
    for prio, target in policy.targets.items():
        if target <= timedelta(0):
            problems.append(
                Problem(pointer=pointer(*at, "targets", prio), detail="the target must be positive")
            )
    for i, name in enumerate(policy.pause_when):
        if not _matches(WAITING_PATTERN, name):
            problems.append(
                Problem(
                    pointer=pointer(*at, "pause_when", i), detail=f"{name!r} is not a reason key"
                )
            )
    for i, rung in enumerate(policy.ladder):
        problems += _rung_problems(rung, (*at, "ladder", i), stage=stage)
    problems += _ladder_order_problems(policy, at)
    return problems


def _matches(pattern: str, text: str) -> bool:
    return re.match(pattern, text) is not None


def _rung_problems(rung: Rung, at: tuple[str | int, ...], *, stage: bool) -> list[Problem]:
    problems: list[Problem] = []
    if (rung.at_fraction is None) == (rung.after is None):
        problems.append(
            Problem(pointer=pointer(*at), detail="give exactly one of at_fraction and after")
        )
    if rung.at_fraction is not None and not 0 < rung.at_fraction <= 10:
        problems.append(
            Problem(pointer=pointer(*at, "at_fraction"), detail="must be above 0 and at most 10")
        )
    if rung.after is not None and rung.after <= timedelta(0):
        problems.append(
            Problem(pointer=pointer(*at, "after"), detail="the duration must be positive")
        )
    if not rung.actions:
        problems.append(Problem(pointer=pointer(*at, "actions"), detail="a rung needs an action"))
    for j, action in enumerate(rung.actions):
        where = (*at, "actions", j)
        if action.type == "notify":
            if not action.recipients:
                problems.append(
                    Problem(pointer=pointer(*where, "recipients"), detail="notify whom?")
                )
            for k, recipient in enumerate(action.recipients):
                if not _matches(RECIPIENT_PATTERN, recipient):
                    problems.append(
                        Problem(
                            pointer=pointer(*where, "recipients", k),
                            detail=f"{recipient!r}: use group:, role:, user:, assignee, requester",
                        )
                    )
        elif action.type in ("reassign", "escalate") and not action.group:
            problems.append(
                Problem(pointer=pointer(*where, "group"), detail=f"{action.type} to which group?")
            )
        if action.type == "reassign" and not stage:
            problems.append(
                Problem(
                    pointer=pointer(*where, "type"), detail="only a stage's ladder can reassign"
                )
            )
    return problems


def _ladder_order_problems(policy: SlaPolicy, at: tuple[str | int, ...]) -> list[Problem]:
    """Rungs must fire in the order written, for the default target and every priority's."""
    targets = {f"priority {p}": t for p, t in policy.targets.items()}
    if policy.target is not None:
        targets["the default target"] = policy.target
    problems: list[Problem] = []
    for i in range(1, len(policy.ladder)):
        before, rung = policy.ladder[i - 1], policy.ladder[i]
        for label, target in targets.items():
            if target > timedelta(0) and rung.offset(target) <= before.offset(target):
                problems.append(
                    Problem(
                        pointer=pointer(*at, "ladder", i),
                        detail=f"rung {i} fires at {rung.offset(target)}, not after rung {i - 1} "
                        f"({before.offset(target)}) for {label}; order the ladder",
                    )
                )
                break
    return problems


class ClockState(StrEnum):
    """What a clock is doing, as reported to people."""

    RUNNING = "running"
    PAUSED = "paused"
    MET = "met"
    BREACHED = "breached"
    CANCELLED = "cancelled"


class SlaClock(BaseModel):
    """One running count of business time against a target (the ticket's, or a stage's)."""

    id: str
    stage: str | None = None
    round: int = 1
    milestone: bool = False
    calendar: str = ALWAYS
    target: timedelta
    started_at: datetime
    elapsed: timedelta = timedelta(0)
    running_since: datetime | None = None
    paused_since: datetime | None = None
    paused: timedelta = timedelta(0)
    stopped_at: datetime | None = None
    breached_at: datetime | None = None
    fired: list[int] = Field(default_factory=list)
    cancelled: bool = Field(default=False, description="Stopped because the ticket was cancelled.")

    def elapsed_at(self, calendar: BusinessCalendar, now: datetime) -> timedelta:
        """Business time counted so far."""
        if self.running_since is None:
            return self.elapsed
        return self.elapsed + business_between(calendar, self.running_since, now)

    def paused_at(self, calendar: BusinessCalendar, now: datetime) -> timedelta:
        """Business time spent paused so far."""
        if self.paused_since is None:
            return self.paused
        return self.paused + business_between(calendar, self.paused_since, now)

    def instant_of(self, calendar: BusinessCalendar, offset: timedelta) -> datetime | None:
        """When the clock reaches `offset` of business time, if it keeps running (else None)."""
        if self.running_since is None:
            return None
        return add_business(calendar, self.running_since, offset - self.elapsed)

    def deadline(self, calendar: BusinessCalendar) -> datetime | None:
        """When the target is reached if the clock keeps running."""
        return self.instant_of(calendar, self.target)

    def state(self) -> ClockState:
        """Running, paused, met, breached (the target passed before it stopped) or cancelled.

        A clock breached before its ticket was cancelled stays breached: the breach happened.
        """
        if self.breached_at is not None:
            return ClockState.BREACHED
        if self.stopped_at is not None:
            return ClockState.CANCELLED if self.cancelled else ClockState.MET
        return ClockState.PAUSED if self.paused_since is not None else ClockState.RUNNING

    def pause(self, calendar: BusinessCalendar, now: datetime) -> None:
        """Stop counting; the time counted so far is kept."""
        self.elapsed = self.elapsed_at(calendar, now)
        self.running_since, self.paused_since = None, now

    def resume(self, calendar: BusinessCalendar, now: datetime) -> None:
        """Count again from now; the paused business time is added to the paused total."""
        self.paused = self.paused_at(calendar, now)
        self.running_since, self.paused_since = now, None

    def stop(self, calendar: BusinessCalendar, now: datetime, *, cancelled: bool = False) -> None:
        """Stop for good (stage done, ticket resolved or cancelled); a late stop is a breach."""
        self.elapsed = self.elapsed_at(calendar, now)
        self.paused = self.paused_at(calendar, now)
        self.running_since = self.paused_since = None
        self.stopped_at, self.cancelled = now, cancelled
        if self.elapsed > self.target and self.breached_at is None:
            self.breached_at = now
