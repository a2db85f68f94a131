"""A ticket's evidence trace: what happened when, who did it, and what was handed over.

Built from the ticket's events (and the stored metadata of its deliverable versions and device
snapshots, and what the user accounts say of each actor), so the same events always give the
same trace. Three axes:

* time: every transition, each stage round's span (opened, claimed, ended), every wait (for a
  claim, for the requester's confirmation, on hold, SLA clocks paused, for a signal, a timer,
  a child ticket), the rounds a reopen starts;
* organisation: each actor with their account's department and role and what they did, each
  department's stages, and the hand-overs between departments with their gaps;
* data: named sections, one function each (`DATA_SECTIONS`): deliverables, device snapshots,
  and the customer's `rating` (`POST /feedback/{token}`) with the solution it rates.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from domain.definitions import ProcessDefinition
from domain.device_evidence import DEVICE_SNAPSHOT_TAKEN
from domain.devices import Snapshot, seal
from domain.feedback import Solution
from domain.process_paths import incoming
from domain.sla_clocks import SLA_ACTOR
from domain.ticket import SYSTEM, TicketEvent
from domain.triage_routing import TRIAGE_ACTOR

# Actors the system writes itself; every other actor is a person's or an outside system's
# account.
SYSTEM_ACTORS = frozenset({SYSTEM, SLA_ACTOR, TRIAGE_ACTOR.user})
# The keys of an event's data a transition keeps: which task, stage and group it was about.
TRANSITION_KEYS = ("task", "stage", "group", "assignee", "kind")

WaitKind = Literal["claim", "confirmation", "on_hold", "sla_paused", "signal", "timer", "child"]


class Person(BaseModel):
    """What a user account says of an actor."""

    department: str
    role: str


class VersionRecord(BaseModel):
    """One stored version of a deliverable."""

    stage: str
    deliverable: str
    version: int
    sha256: str
    size: int
    media_type: str
    file_name: str
    author: str
    at: datetime
    value: Any = None


class SnapshotRecord(BaseModel):
    """A device snapshot stored for the ticket: its row's seal and its document."""

    sha256: str
    document: dict[str, Any]


class RatingTrace(BaseModel):
    """The customer's rating of the closed ticket, bound to the solution it rates."""

    csat: int
    nps: int
    given_at: datetime
    comment: str | None = None
    solution: Solution


class TraceSources(BaseModel):
    """Everything a trace is built from."""

    key: str
    definition: ProcessDefinition
    events: list[TicketEvent]
    versions: list[VersionRecord] = Field(default_factory=list)
    snapshots: list[SnapshotRecord] = Field(default_factory=list)
    people: dict[str, Person] = Field(default_factory=dict)
    rating: RatingTrace | None = None


def seconds_between(start: datetime | None, end: datetime | None) -> float | None:
    """Seconds from start to end, None unless both are known."""
    if start is None or end is None:
        return None
    return (end - start).total_seconds()


class Transition(BaseModel):
    """One event of the ticket, its data cut down to the task it was about."""

    seq: int
    type: str
    at: datetime
    actor: str
    data: dict[str, Any] = Field(default_factory=dict)


class StageSpan(BaseModel):
    """One round of one stage's task (or a follow-up): when it opened, was claimed, ended."""

    task: str
    stage: str
    round: int
    kind: str
    group: str
    status: str
    opened_at: datetime | None = None
    claimed_at: datetime | None = None
    ended_at: datetime | None = None
    completed_by: str | None = None
    seconds: float | None = Field(default=None, description="Opened to ended.")
    to_claim_seconds: float | None = Field(default=None, description="Opened to first claim.")


class Wait(BaseModel):
    """A time the ticket (or one task) waited for someone or something."""

    kind: WaitKind
    started_at: datetime
    ended_at: datetime | None = None
    seconds: float | None = None
    outcome: str | None = Field(default=None, description="What ended it; None while it lasts.")
    task: str | None = None
    stage: str | None = None
    round: int | None = None
    clock: str | None = None
    reason: str | None = None
    signal: str | None = None


class Round(BaseModel):
    """One pass of the ticket from its start (or a reopen) to its resolution and after."""

    round: int
    started_at: datetime
    resolved_at: datetime | None = None
    ended_at: datetime | None = None
    outcome: str | None = Field(default=None, description="reopened, closed or cancelled.")
    seconds: float | None = Field(default=None, description="Started to resolved.")


class TimeAxis(BaseModel):
    """When everything happened and how long each part took."""

    created_at: datetime | None = None
    closed_at: datetime | None = None
    seconds: float | None = Field(default=None, description="First report to closed.")
    rounds: list[Round] = Field(default_factory=list)
    transitions: list[Transition] = Field(default_factory=list)
    stages: list[StageSpan] = Field(default_factory=list)
    waits: list[Wait] = Field(default_factory=list)


class Action(BaseModel):
    """One thing an actor did: the event, and the stage round it was about."""

    seq: int
    type: str
    at: datetime
    stage: str | None = None
    round: int | None = None
    group: str | None = None


class ActorTrace(BaseModel):
    """One actor: the system's own, or an account with its department and role."""

    user: str
    kind: Literal["person", "system"]
    department: str | None = None
    role: str | None = None
    groups: list[str] = Field(default_factory=list, description="Groups of the tasks acted on.")
    actions: list[Action] = Field(default_factory=list)


class StageRef(BaseModel):
    """A stage round a department held."""

    stage: str
    round: int
    seconds: float | None = None


class DepartmentTrace(BaseModel):
    """One department (task group): the stage rounds it held, who held them, the time spent."""

    department: str
    stages: list[StageRef] = Field(default_factory=list)
    people: list[str] = Field(default_factory=list)
    seconds: float = Field(default=0.0, description="The ended rounds' spans, summed.")


class Handover(BaseModel):
    """Work passing from one department to another.

    `stage`: a stage completed by one group, and a stage after it opened for another;
    `moved`: a task moved to another group (by a person, the SLA or triage).
    """

    kind: Literal["stage", "moved"]
    from_group: str
    to_group: str
    from_stage: str
    to_stage: str
    from_round: int
    to_round: int
    left_at: datetime
    arrived_at: datetime
    gap_seconds: float


class OrganisationAxis(BaseModel):
    """Who did what, per department and role."""

    actors: list[ActorTrace] = Field(default_factory=list)
    departments: list[DepartmentTrace] = Field(default_factory=list)
    handovers: list[Handover] = Field(default_factory=list)


class DeliverableTrace(BaseModel):
    """One version of a deliverable, as handed over."""

    stage: str
    deliverable: str
    version: int
    sha256: str
    size: int
    media_type: str
    file_name: str
    author: str
    at: datetime
    value: Any = None


class SnapshotTrace(BaseModel):
    """A device snapshot the ticket took, with its seal checked against the stored document."""

    device_id: str
    sha256: str
    taken_at: datetime | None = None
    good: int | None = None
    bad: int | None = None
    task: str | None = None
    stage: str | None = None
    stored: bool = Field(description="A stored snapshot carries this seal.")
    sealed: bool = Field(description="The stored document hashes to this seal again.")


class DataAxis(BaseModel):
    """What the ticket's evidence consists of, one named section each."""

    deliverables: list[DeliverableTrace] = Field(default_factory=list)
    snapshots: list[SnapshotTrace] = Field(default_factory=list)
    rating: list[RatingTrace] = Field(
        default_factory=list, description="The customer's rating, once given."
    )


class Trace(BaseModel):
    """A ticket's evidence chain on three axes."""

    key: str
    time: TimeAxis
    organisation: OrganisationAxis
    data: DataAxis


def task_round(task_id: object) -> int | None:
    """The round a task id (`KEY:stage:round`) names."""
    if not isinstance(task_id, str):
        return None
    last = task_id.rsplit(":", 1)[-1]
    return int(last) if last.isdigit() else None


@dataclass
class _Span:
    span: StageSpan
    opened_seq: int | None = None
    ended_seq: int | None = None
    # The ticket's round (1, then one more per reopen) in which the span opened and ended.
    opened_in: int = 0
    ended_in: int = 0
    opened_group: str = ""
    holders: list[str] = field(default_factory=list)


# Events that end a task's round with its stage done.
_DONE = (
    "task_completed",
    "service_completed",
    "service_skipped",
    "wait_matched",
    "wait_timed_out",
    "timer_fired",
    "subprocess_closed",
)
# Events that start a stage round (a person's task, or an automated stage running).
_STARTS = ("task_opened", "service_started", "wait_started", "timer_started", "subprocess_started")
# Automated waits: the event that starts each, and its kind.
_AUTOMATED_WAITS: dict[str, WaitKind] = {
    "wait_started": "signal",
    "timer_started": "timer",
    "subprocess_started": "child",
}
_OPEN_SPAN = ("open", "claimed", "running")


class _Builder:
    """Walks the events once, in order, keeping each span, wait and round as it goes."""

    def __init__(self) -> None:
        self.spans: dict[str, _Span] = {}
        self.waits: list[Wait] = []
        self.open_waits: dict[tuple[str, str], Wait] = {}
        self.rounds: list[Round] = []
        self.moves: list[Handover] = []
        self.created_at: datetime | None = None
        self.closed_at: datetime | None = None

    def start_wait(self, slot: tuple[str, str], wait: Wait) -> None:
        if slot not in self.open_waits:
            self.open_waits[slot] = wait
            self.waits.append(wait)

    def end_wait(self, slot: tuple[str, str], at: datetime, outcome: str) -> None:
        wait = self.open_waits.pop(slot, None)
        if wait is not None:
            wait.ended_at, wait.outcome = at, outcome
            wait.seconds = seconds_between(wait.started_at, at)

    def task_wait(self, kind: WaitKind, event: TicketEvent, **extra: Any) -> None:
        task = str(event.data.get("task", ""))
        self.start_wait(
            (kind, task),
            Wait(
                kind=kind,
                started_at=event.at,
                task=task,
                stage=event.data.get("stage"),
                round=task_round(task),
                **extra,
            ),
        )

    def span(self, event: TicketEvent) -> _Span:
        task = str(event.data.get("task", ""))
        found = self.spans.get(task)
        if found is None:
            found = _Span(
                StageSpan(
                    task=task,
                    stage=str(event.data.get("stage", "")),
                    round=task_round(task) or 1,
                    kind=str(event.data.get("kind", "stage")),
                    group=str(event.data.get("group", "")),
                    status="pending",
                )
            )
            self.spans[task] = found
        return found

    def end_span(self, record: _Span, event: TicketEvent, status: str) -> None:
        span = record.span
        span.status, span.ended_at = status, event.at
        span.seconds = seconds_between(span.opened_at, event.at)
        record.ended_seq, record.ended_in = event.seq, len(self.rounds)

    def held(self, record: _Span, who: str, at: datetime) -> None:
        span = record.span
        if span.claimed_at is None:
            span.claimed_at = at
            span.to_claim_seconds = seconds_between(span.opened_at, at)
        if who not in record.holders:
            record.holders.append(who)

    def on_task(self, event: TicketEvent) -> None:
        """A task event: its span and its claim waits."""
        record, kind = self.span(event), event.type
        span, task = record.span, record.span.task
        if kind in _STARTS and span.opened_at is None:
            span.opened_at, span.status = event.at, "open" if kind == "task_opened" else "running"
            record.opened_seq, record.opened_group = event.seq, span.group
            record.opened_in = len(self.rounds)
        if kind == "task_opened" or kind == "task_unclaimed" or kind == "service_failed":
            span.status = "open"
            self.task_wait("claim", event)
        elif kind in _AUTOMATED_WAITS:
            signal = event.data.get("signal") if kind == "wait_started" else None
            self.task_wait(_AUTOMATED_WAITS[kind], event, signal=signal)
        elif kind == "task_claimed":
            span.status = "claimed"
            self.held(record, event.actor, event.at)
            self.end_wait(("claim", task), event.at, "claimed")
        elif kind in ("task_reassigned", "task_routed"):
            self.moved(record, event)
        elif kind == "service_retried":
            span.status = "running"
        elif kind in _DONE:
            self.done(record, event)
        elif kind == "task_cancelled":
            self.end_span(record, event, "cancelled")
            self.end_wait(("claim", task), event.at, "cancelled")
        elif kind == "stage_skipped":
            span.status = "skipped"

    def moved(self, record: _Span, event: TicketEvent) -> None:
        span, task = record.span, record.span.task
        before = event.data.get("before")
        came_from = str(before.get("group", "")) if isinstance(before, dict) else span.group
        span.group = str(event.data.get("group", span.group))
        if span.opened_at is not None and came_from != span.group:
            self.moves.append(
                Handover(
                    kind="moved",
                    from_group=came_from,
                    to_group=span.group,
                    from_stage=span.stage,
                    to_stage=span.stage,
                    from_round=span.round,
                    to_round=span.round,
                    left_at=event.at,
                    arrived_at=event.at,
                    gap_seconds=0.0,
                )
            )
        assignee = event.data.get("assignee")
        if isinstance(assignee, str) and assignee:
            span.status = "claimed"
            self.held(record, assignee, event.at)
            self.end_wait(("claim", task), event.at, "assigned")
        elif span.opened_at is not None:
            span.status = "open"
            self.task_wait("claim", event)

    def done(self, record: _Span, event: TicketEvent) -> None:
        task = record.span.task
        self.end_span(record, event, "done")
        record.span.completed_by = event.actor
        if event.actor not in SYSTEM_ACTORS and event.actor not in record.holders:
            record.holders.append(event.actor)
        outcome = {"wait_timed_out": "timed_out", "subprocess_closed": "closed"}.get(
            event.type, "done"
        )
        for kind in ("claim", "signal", "timer", "child"):
            self.end_wait((kind, task), event.at, outcome)

    def on_ticket(self, event: TicketEvent) -> None:
        """An event about the ticket as a whole: rounds, confirmation, holds, SLA pauses."""
        kind, at = event.type, event.at
        if kind == "created":
            self.created_at = at
            self.rounds.append(Round(round=1, started_at=at))
        elif kind == "resolved" and self.rounds:
            current = self.rounds[-1]
            current.resolved_at = at
            current.seconds = seconds_between(current.started_at, at)
            self.start_wait(("confirmation", ""), Wait(kind="confirmation", started_at=at))
        elif kind == "reopened":
            self.end_round(at, "reopened")
            self.end_wait(("confirmation", ""), at, "reopened")
            self.rounds.append(Round(round=len(self.rounds) + 1, started_at=at))
        elif kind == "closed":
            self.closed_at = at
            self.end_round(at, "closed")
            by = event.data.get("by")
            self.end_wait(("confirmation", ""), at, "timed_out" if by == "timeout" else "confirmed")
        elif kind == "cancelled":
            self.closed_at = at
            self.end_round(at, "cancelled")
            for record in self.spans.values():
                if record.span.status in _OPEN_SPAN:
                    self.end_span(record, event, "cancelled")
            for slot in list(self.open_waits):
                self.end_wait(slot, at, "cancelled")
        elif kind == "waiting_started":
            reason = event.data.get("reason")
            self.start_wait(("on_hold", ""), Wait(kind="on_hold", started_at=at, reason=reason))
        elif kind == "waiting_ended":
            self.end_wait(("on_hold", ""), at, "resumed")
        elif kind == "sla_paused":
            clock = str(event.data.get("clock", ""))
            self.start_wait(
                ("sla_paused", clock),
                Wait(
                    kind="sla_paused",
                    started_at=at,
                    clock=clock,
                    stage=event.data.get("stage"),
                    round=event.data.get("round"),
                    reason=event.data.get("reason"),
                ),
            )
        elif kind in ("sla_resumed", "sla_stopped"):
            outcome = "resumed" if kind == "sla_resumed" else "stopped"
            self.end_wait(("sla_paused", str(event.data.get("clock", ""))), at, outcome)

    def end_round(self, at: datetime, outcome: str) -> None:
        if self.rounds and self.rounds[-1].outcome is None:
            self.rounds[-1].ended_at, self.rounds[-1].outcome = at, outcome


def _transition(event: TicketEvent) -> Transition:
    data = {k: event.data[k] for k in TRANSITION_KEYS if k in event.data}
    return Transition(seq=event.seq, type=event.type, at=event.at, actor=event.actor, data=data)


def _stage_handovers(definition: ProcessDefinition, spans: list[_Span]) -> list[Handover]:
    """A stage round that opened for a group after a stage before it ended done in another.

    Only within one round of the ticket: a stage a reopen runs again was sent back by the
    reopen, not by the stage before it, which ended in an earlier round.
    """
    into = incoming(definition)
    found = []
    for after in spans:
        if after.opened_seq is None or after.span.stage not in into:
            continue
        for edge in into[after.span.stage]:
            ended = [
                s
                for s in spans
                if s.span.stage == edge.source
                and s.span.status == "done"
                and s.ended_seq is not None
                and s.ended_seq <= after.opened_seq
                and s.ended_in == after.opened_in
            ]
            if not ended:
                continue
            before = max(ended, key=lambda s: s.ended_seq or 0)
            left, arrived = before.span.ended_at, after.span.opened_at
            if before.span.group == after.opened_group or left is None or arrived is None:
                continue
            found.append(
                Handover(
                    kind="stage",
                    from_group=before.span.group,
                    to_group=after.opened_group,
                    from_stage=before.span.stage,
                    to_stage=after.span.stage,
                    from_round=before.span.round,
                    to_round=after.span.round,
                    left_at=left,
                    arrived_at=arrived,
                    gap_seconds=(arrived - left).total_seconds(),
                )
            )
    return found


def _actors(events: Sequence[TicketEvent], people: Mapping[str, Person]) -> list[ActorTrace]:
    """Each actor in order of their first event, with everything they did."""
    actors: dict[str, ActorTrace] = {}
    for event in events:
        actor = actors.get(event.actor)
        if actor is None:
            person = people.get(event.actor)
            actor = ActorTrace(
                user=event.actor,
                kind="system" if event.actor in SYSTEM_ACTORS else "person",
                department=person.department if person else None,
                role=person.role if person else None,
            )
            actors[event.actor] = actor
        group = event.data.get("group")
        if isinstance(group, str) and group not in actor.groups:
            actor.groups.append(group)
        actor.actions.append(
            Action(
                seq=event.seq,
                type=event.type,
                at=event.at,
                stage=event.data.get("stage") if "task" in event.data else None,
                round=task_round(event.data.get("task")),
                group=group if isinstance(group, str) else None,
            )
        )
    return list(actors.values())


def _departments(spans: list[_Span]) -> list[DepartmentTrace]:
    """Each group that held a stage round, in order of its first opening."""
    found: dict[str, DepartmentTrace] = {}
    for record in sorted(spans, key=lambda s: s.opened_seq or 0):
        span = record.span
        if span.opened_at is None:
            continue
        department = found.setdefault(span.group, DepartmentTrace(department=span.group))
        department.stages.append(StageRef(stage=span.stage, round=span.round, seconds=span.seconds))
        department.seconds += span.seconds or 0.0
        department.people += [p for p in record.holders if p not in department.people]
    return list(found.values())


def deliverables_section(sources: TraceSources) -> list[DeliverableTrace]:
    """Every version handed over, in the order they were attached."""
    ordered = sorted(sources.versions, key=lambda v: (v.at, v.stage, v.deliverable, v.version))
    return [DeliverableTrace.model_validate(v.model_dump()) for v in ordered]


def _seal_holds(record: SnapshotRecord) -> bool:
    snapshot = Snapshot.model_validate(record.document)
    return seal(snapshot).sha256 == record.sha256 == snapshot.sha256


def snapshots_section(sources: TraceSources) -> list[SnapshotTrace]:
    """Every device snapshot the ticket took, its seal checked against what is stored."""
    stored = {r.sha256: r for r in sources.snapshots}
    found = []
    for event in sources.events:
        if event.type != DEVICE_SNAPSHOT_TAKEN:
            continue
        data = event.data
        sha256 = str(data.get("sha256", ""))
        record = stored.get(sha256)
        taken = data.get("taken_at")
        found.append(
            SnapshotTrace(
                device_id=str(data.get("device_id", "")),
                sha256=sha256,
                taken_at=datetime.fromisoformat(taken) if isinstance(taken, str) else None,
                good=data.get("good"),
                bad=data.get("bad"),
                task=data.get("task"),
                stage=data.get("stage"),
                stored=record is not None,
                sealed=record is not None and _seal_holds(record),
            )
        )
    return found


def rating_section(sources: TraceSources) -> list[RatingTrace]:
    """The customer's rating, when one was given."""
    return [sources.rating] if sources.rating is not None else []


# The data axis, one builder per section.
DATA_SECTIONS: dict[str, Callable[[TraceSources], Sequence[BaseModel]]] = {
    "deliverables": deliverables_section,
    "snapshots": snapshots_section,
    "rating": rating_section,
}


def build_trace(sources: TraceSources) -> Trace:
    """The ticket's evidence trace from its events and stored evidence."""
    events = sorted(sources.events, key=lambda e: e.seq)
    builder = _Builder()
    for event in events:
        if "task" in event.data and not event.type.startswith("sla_"):
            builder.on_task(event)
        else:
            builder.on_ticket(event)
    spans = list(builder.spans.values())
    time = TimeAxis(
        created_at=builder.created_at,
        closed_at=builder.closed_at,
        seconds=seconds_between(builder.created_at, builder.closed_at),
        rounds=builder.rounds,
        transitions=[_transition(e) for e in events],
        stages=[
            s.span for s in sorted(spans, key=lambda s: (s.opened_seq is None, s.opened_seq or 0))
        ],
        waits=builder.waits,
    )
    handovers = _stage_handovers(sources.definition, spans) + builder.moves
    organisation = OrganisationAxis(
        actors=_actors(events, sources.people),
        departments=_departments(spans),
        handovers=sorted(handovers, key=lambda h: (h.arrived_at, h.to_stage, h.to_round)),
    )
    data = DataAxis.model_validate({name: build(sources) for name, build in DATA_SECTIONS.items()})
    return Trace(key=sources.key, time=time, organisation=organisation, data=data)
