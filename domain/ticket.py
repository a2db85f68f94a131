"""The ticket state machine: pure transitions that the TicketWorkflow drives.

Each transition checks its preconditions first (the same checks the workflow's Update
validators run) and then mutates the state and appends one event.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from domain.actions import SET_FIELDS, ActionInput
from domain.calendars import ALWAYS, ALWAYS_CALENDAR, BusinessCalendar, add_business
from domain.definitions import ProcessDefinition, StageDefinition
from domain.deliverables import (
    DeliverableSpec,
    DeliverableVersion,
    GitCommit,
    Submission,
    contract_problems,
    submission_problems,
    unmet,
    value_submission,
)
from domain.device_evidence import evidence_data, snapshot_summary
from domain.devices import Snapshot
from domain.expressions import ExpressionError, holds, prepare
from domain.form_invariants import invariant_problems
from domain.problems import Problem, pointer
from domain.process_paths import Edge, choose, downstream, edge_state, ends, incoming
from domain.recurrence import RecurrenceRef, ticket_category
from domain.sentiment import SENTIMENT_ACTOR, Decision, ExpediteProposal
from domain.sla import DEFAULT_PRIORITY, Priority, SlaClock, raised
from domain.stage_inputs import evaluate_fields, evaluate_params, instant

ADMIN_ROLE = "admin"
# Follow-up ids are upper case, so they never collide with a stage key (always lower case).
FOLLOWUP_PATTERN = r"^F[1-9][0-9]{0,5}$"
# A follow-up opened before follow-ups had their own collection.
LEGACY_FOLLOWUP_PREFIX = "esc-"


def is_followup_id(ref: str) -> bool:
    """Whether `ref` names a follow-up task rather than a stage."""
    return re.match(FOLLOWUP_PATTERN, ref) is not None


class Actor(BaseModel):
    """Who is acting: a user (or system) with a department and a role."""

    user: str
    department: str = ""
    role: str = "requester"


class TicketStatus(StrEnum):
    """Lifecycle of a ticket."""

    OPEN = "open"
    RESOLVED = "resolved"
    CLOSED = "closed"
    CANCELLED = "cancelled"


class TaskStatus(StrEnum):
    """Lifecycle of one stage's task: a person's (open, claimed) or an automated one's (running)."""

    PENDING = "pending"
    OPEN = "open"
    CLAIMED = "claimed"
    RUNNING = "running"
    DONE = "done"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"


# A person's task still to do: in a queue or held by someone.
ACTIVE_TASK = (TaskStatus.OPEN, TaskStatus.CLAIMED)
# Under way, by a person or by the system: its stage's SLA clock counts.
CLOCKED_TASK = (TaskStatus.OPEN, TaskStatus.CLAIMED, TaskStatus.RUNNING)
FINISHED_TASK = (TaskStatus.DONE, TaskStatus.SKIPPED)
FINAL_TICKET = (TicketStatus.CLOSED, TicketStatus.CANCELLED)

ErrorKind = Literal["not_found", "conflict", "invalid", "forbidden"]
# A human stage's task keeps kind `stage` (as recorded histories have it); the automated kinds
# are named after their stage kind.
TaskKind = Literal["stage", "followup", "service", "wait", "timer", "subprocess"]
AutomatedKind = Literal["service", "wait", "timer", "subprocess"]
SYSTEM = "system"
# Who attaches the commits a git server pushes (domain.git_commits names it too).
GIT = "git"
REPORT_EVENTS = ("duplicate_reported", "possible_duplicate")


class TicketRuleError(Exception):
    """A transition that the ticket's rules refuse; `kind` maps to an HTTP status."""

    def __init__(self, kind: ErrorKind, message: str, problems: list[Problem] | None = None):
        super().__init__(message)
        self.kind: ErrorKind = kind
        self.message = message
        self.problems = problems or []


class Task(BaseModel):
    """The human task of one stage in its current round, or a follow-up an escalation opened.

    A follow-up's `stage_key` is its follow-up id (`F1`, `F2`...) and `clock` the SLA clock
    whose rung opened it.
    """

    id: str
    stage_key: str
    title: str
    group: str
    kind: TaskKind = "stage"
    clock: str | None = None
    # The key a follow-up was claimed by before follow-ups had ids of their own (`esc-...`),
    # still accepted so that recorded histories replay.
    legacy_key: str | None = None
    status: TaskStatus = TaskStatus.PENDING
    assignee: str | None = None
    round: int = 1
    opened_at: datetime | None = None
    claimed_at: datetime | None = None
    completed_at: datetime | None = None
    completed_by: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)
    chosen: list[str] | None = Field(
        default=None, description="The stages this stage's gateway chose, once decided."
    )
    timed_out: bool = Field(default=False, description="A wait that ended by its timeout.")
    until: datetime | None = Field(default=None, description="When a wait or timer ends.")
    child: str | None = Field(default=None, description="A subprocess's child ticket key.")
    error: str | None = Field(default=None, description="Why a service stage failed.")


class ParentRef(BaseModel):
    """The ticket and stage whose subprocess a child ticket is."""

    key: str
    stage: str


def task_kind(stage: StageDefinition) -> TaskKind:
    """The kind of a stage's task."""
    return "stage" if stage.kind == "task" else stage.kind


class TicketEvent(BaseModel):
    """One recorded transition of a ticket; `seq` orders them and keys the projection."""

    seq: int
    type: str
    at: datetime
    actor: str
    data: dict[str, Any] = Field(default_factory=dict)


class TicketSnapshot(BaseModel):
    """What the projection stores as the ticket's row and its task rows."""

    key: str
    definition_key: str
    definition_version: int
    department: str
    title: str
    status: TicketStatus
    requester: str
    intake: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    resolved_at: datetime | None
    closed_at: datetime | None
    last_seq: int
    tasks: list[Task]
    priority: Priority = DEFAULT_PRIORITY
    waiting_for: str | None = None
    parent_key: str | None = None
    category: str | None = None


class TicketState(BaseModel):
    """Everything the workflow knows about its ticket; carried across continue-as-new."""

    key: str
    definition: ProcessDefinition
    title: str
    requester: Actor
    intake: dict[str, Any]
    status: TicketStatus = TicketStatus.OPEN
    tasks: dict[str, Task] = Field(default_factory=dict)
    followups: dict[str, Task] = Field(
        default_factory=dict, description="Escalation follow-up tasks by follow-up id."
    )
    events: list[TicketEvent] = Field(default_factory=list)
    created_at: datetime
    updated_at: datetime
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    cancel_reason: str | None = None
    priority: Priority = DEFAULT_PRIORITY
    waiting_for: str | None = Field(default=None, description="Why the ticket waits, if it does.")
    clocks: dict[str, SlaClock] = Field(default_factory=dict)
    report_ids: list[str] = Field(
        default_factory=list,
        description="Ids of the duplicate reports recorded, so a retried report is kept once.",
    )
    fields: dict[str, Any] = Field(
        default_factory=dict, description="Values `ticket.set_fields` stages computed."
    )
    parent: ParentRef | None = Field(default=None, description="Set on a subprocess's child.")
    intake_snapshot: dict[str, Any] | None = Field(
        default=None,
        description="The summary of the snapshot of the intake's device taken at creation.",
    )
    deliverables: dict[str, dict[str, list[DeliverableVersion]]] = Field(
        default_factory=dict, description="Stage -> deliverable -> its versions, oldest first."
    )
    contracts: dict[str, list[DeliverableSpec]] = Field(
        default_factory=dict, description="Stages whose contract this ticket amended: the new one."
    )
    commit_signals: list[str] = Field(
        default_factory=list,
        description="Ids of the pushed commits recorded, so a redelivered one is kept once.",
    )
    category: str | None = Field(
        default=None, description="Triage's category: a dispatcher's, else the routing model's."
    )
    recurrence_of: RecurrenceRef | None = Field(
        default=None, description="The closed ticket this one was filed as a recurrence of."
    )
    expedites: dict[str, ExpediteProposal] = Field(
        default_factory=dict, description="Expedites the sentiment model proposed, by id."
    )

    @model_validator(mode="after")
    def _carry_over_older_state(self) -> TicketState:
        """A state carried over by an older version: its follow-ups and report ids."""
        if "followups" not in self.model_fields_set:
            stages = {s.key for s in self.definition.stages}
            for key in [k for k in self.tasks if k not in stages]:
                self.followups[key] = self.tasks.pop(key).model_copy(update={"kind": "followup"})
        if "report_ids" not in self.model_fields_set:
            self.report_ids = list(
                dict.fromkeys(
                    str(e.data["report_id"])
                    for e in self.events
                    if e.type in REPORT_EVENTS and e.data.get("report_id")
                )
            )
        return self

    @classmethod
    def create(
        cls,
        *,
        key: str,
        definition: ProcessDefinition,
        intake: dict[str, Any],
        requester: Actor,
        now: datetime,
        priority: Priority = DEFAULT_PRIORITY,
        parent: ParentRef | None = None,
        recurrence_of: RecurrenceRef | None = None,
    ) -> TicketState:
        """Start a ticket: every stage gets a task; those with no incoming path start at once.

        A recurrence of a recently closed ticket says so right after its creation.
        """
        # Only text is copied: an object's nested fields have sensitivities of their own.
        texts = [intake.get("title"), intake.get("summary")]
        title = next((t for t in texts if isinstance(t, str) and t), definition.title)[:200]
        state = cls(
            key=key,
            definition=definition,
            title=title,
            requester=requester,
            intake=intake,
            created_at=now,
            updated_at=now,
            priority=priority,
            parent=parent,
            recurrence_of=recurrence_of,
        )
        for stage in definition.stages:
            # With triage on, routed stages wait in the dispatcher's queue until triage decides.
            triage = definition.triage
            routed = triage is not None and stage.key in triage.routed_stages
            state.tasks[stage.key] = Task(
                id=f"{key}:{stage.key}:1",
                stage_key=stage.key,
                title=stage.title,
                group=triage.dispatcher_group if triage and routed else stage.group,
                kind=task_kind(stage),
            )
        created: dict[str, Any] = {
            "definition": f"{definition.key}@{definition.version}",
            "title": title,
            "priority": priority,
        }
        if parent is not None:
            created["parent"] = parent.model_dump()
        state.record_event("created", requester.user, now, created)
        if recurrence_of is not None:
            state.record_event(
                "recurrence_of",
                SYSTEM,
                now,
                {"ticket": recurrence_of.key, "closed_at": recurrence_of.closed_at.isoformat()},
            )
        # Open the first stages at once, so an Update arriving in the workflow's first
        # activation already finds them claimable.
        state.open_ready_tasks(now)
        return state

    @property
    def last_seq(self) -> int:
        """Sequence number of the latest event."""
        return self.events[-1].seq if self.events else 0

    @property
    def confirmation_deadline(self) -> datetime | None:
        """When a resolved ticket closes by itself if the requester says nothing."""
        if self.resolved_at is None:
            return None
        return self.resolved_at + timedelta(hours=self.definition.confirmation.timeout_hours)

    def snapshot(self) -> TicketSnapshot:
        """The row-shaped view the projection writes."""
        return TicketSnapshot(
            key=self.key,
            definition_key=self.definition.key,
            definition_version=self.definition.version,
            department=self.definition.department,
            title=self.title,
            status=self.status,
            requester=self.requester.user,
            intake=self.intake,
            created_at=self.created_at,
            updated_at=self.updated_at,
            resolved_at=self.resolved_at,
            closed_at=self.closed_at,
            last_seq=self.last_seq,
            tasks=[*self.tasks.values(), *self.followups.values()],
            priority=self.priority,
            waiting_for=self.waiting_for,
            parent_key=self.parent.key if self.parent else None,
            category=ticket_category(self.category, self.definition.key),
        )

    def active_groups(self) -> list[str]:
        """Groups that currently hold an open or claimed task."""
        return sorted({t.group for t in self.all_tasks() if t.status in ACTIVE_TASK})

    def all_tasks(self) -> list[Task]:
        """Stage tasks, then follow-ups."""
        return [*self.tasks.values(), *self.followups.values()]

    def open_followups(self) -> list[Task]:
        """Follow-ups still to do: they hold the ticket's resolution back."""
        return [t for t in self.followups.values() if t.status in ACTIVE_TASK]

    # -- checks (pure; shared by Update validators and handlers) --------------------------

    def _require_open(self) -> None:
        if self.status != TicketStatus.OPEN:
            raise TicketRuleError("conflict", f"ticket {self.key} is {self.status.value}")

    def task(self, ref: str) -> Task:
        """The task of a stage key or a follow-up id."""
        task = self.tasks.get(ref) or self.followups.get(ref)
        if task is None and ref.startswith(LEGACY_FOLLOWUP_PREFIX):
            task = next((t for t in self.followups.values() if t.legacy_key == ref), None)
        if task is None:
            what = "follow-up" if is_followup_id(ref) else "stage"
            raise TicketRuleError("not_found", f"ticket {self.key} has no {what} {ref!r}")
        return task

    def _require_member(self, task: Task, actor: Actor) -> None:
        if actor.role != ADMIN_ROLE and actor.department != task.group:
            raise TicketRuleError(
                "forbidden",
                f"task {task.id} belongs to group {task.group!r}, "
                f"not to {actor.user}'s department {actor.department!r}",
            )

    def check_claim(self, stage_key: str, actor: Actor) -> Task:
        """Refuse a claim unless the task is open and the actor is in its group."""
        self._require_open()
        task = self.task(stage_key)
        self._require_member(task, actor)
        if task.status == TaskStatus.CLAIMED and task.assignee == actor.user:
            return task
        if task.status == TaskStatus.CLAIMED:
            raise TicketRuleError(
                "conflict", f"task {task.id} is already claimed by {task.assignee}"
            )
        if task.status != TaskStatus.OPEN:
            raise TicketRuleError("conflict", _not_workable(task, "open"))
        return task

    def _require_holder(self, stage_key: str, actor: Actor) -> Task:
        self._require_open()
        task = self.task(stage_key)
        if task.status != TaskStatus.CLAIMED:
            raise TicketRuleError("conflict", _not_workable(task, "claimed"))
        if task.assignee != actor.user and actor.role != ADMIN_ROLE:
            raise TicketRuleError("conflict", f"task {task.id} is claimed by {task.assignee}")
        return task

    def check_unclaim(self, stage_key: str, actor: Actor) -> Task:
        """Only the holder (or an admin) may give a claimed task back."""
        return self._require_holder(stage_key, actor)

    def check_complete(
        self, stage_key: str, actor: Actor, data: dict[str, Any], *, contract: bool = True
    ) -> Task:
        """Only the holder may complete, with data that meets the stage form's invariants and
        (`contract`) with every required deliverable attached and valid.

        A failed service stage's task takes a decision instead: `{"decision": "retry"}` or
        `{"decision": "skip", "reason": "..."}`.
        """
        task = self._require_holder(stage_key, actor)
        if task.kind == "service":
            problems = decision_problems(data)
            if problems:
                raise TicketRuleError(
                    "invalid", "give a decision: retry, or skip with a reason", problems
                )
            return task
        stage = next((s for s in self.definition.stages if s.key == stage_key), None)
        problems = invariant_problems(stage.form if stage else None, data)
        if problems:
            raise TicketRuleError("invalid", "form data does not satisfy the stage form", problems)
        if contract and task.kind == "stage":
            missing = unmet(self.contract(stage_key), self.deliverables.get(stage_key, {}))
            if missing:
                raise TicketRuleError(
                    "conflict",
                    f"stage {stage_key!r} cannot complete: its deliverable contract is unmet",
                    missing,
                )
        return task

    def contract(self, stage_key: str) -> list[DeliverableSpec]:
        """A stage's deliverables: as this ticket amended them, else as its definition says."""
        if stage_key in self.contracts:
            return self.contracts[stage_key]
        stage = next((s for s in self.definition.stages if s.key == stage_key), None)
        return stage.deliverables if stage is not None else []

    def _contract_stage(self, stage_key: str) -> Task:
        self._require_open()
        task = self.tasks.get(stage_key)
        if task is None:
            raise TicketRuleError("not_found", f"ticket {self.key} has no stage {stage_key!r}")
        if task.kind != "stage":
            raise TicketRuleError(
                "conflict", f"stage {stage_key!r} is automated: it hands nothing over"
            )
        return task

    def check_attach(
        self, stage_key: str, deliverable: str, actor: Actor, given: Submission
    ) -> DeliverableSpec:
        """A stage's group attaches a version while its task is to do; it must meet its spec."""
        task = self._contract_stage(stage_key)
        spec = next((d for d in self.contract(stage_key) if d.key == deliverable), None)
        if spec is None:
            raise TicketRuleError(
                "not_found", f"stage {stage_key!r} has no deliverable {deliverable!r}"
            )
        self._require_member(task, actor)
        if task.status not in ACTIVE_TASK:
            raise TicketRuleError("conflict", _not_workable(task, "open or claimed"))
        problems = submission_problems(spec, given)
        if problems:
            raise TicketRuleError("invalid", f"{deliverable} does not meet its spec", problems)
        return spec

    def attach_deliverable(
        self, stage_key: str, deliverable: str, actor: Actor, given: Submission, now: datetime
    ) -> TicketEvent:
        """Keep a new version of a deliverable; earlier versions stay."""
        self.check_attach(stage_key, deliverable, actor, given)
        return self._add_version(stage_key, deliverable, actor.user, given, now)

    def _add_version(
        self,
        stage_key: str,
        deliverable: str,
        author: str,
        given: Submission,
        now: datetime,
        commit: GitCommit | None = None,
    ) -> TicketEvent:
        """Append a checked version to a deliverable and record it."""
        versions = self.deliverables.setdefault(stage_key, {}).setdefault(deliverable, [])
        if given.sha256 is None:
            given = value_submission(given.value)
        version = DeliverableVersion(
            version=len(versions) + 1,
            author=author,
            at=now,
            sha256=given.sha256,
            size=given.size,
            media_type=given.media_type,
            file_name=given.file_name,
            value=given.value,
            commit=commit,
        )
        versions.append(version)
        task = self.tasks[stage_key]
        described = version.model_dump(mode="json", exclude_none=True, exclude={"author", "at"})
        return self._task_event(
            "deliverable_attached",
            task,
            author,
            now,
            deliverable=deliverable,
            version=version.version,
            attached={deliverable: described},
        )

    def commit_targets(self, sha: str) -> list[tuple[str, str]]:
        """Where a pushed commit goes: (stage, deliverable) of each `git_commit` deliverable of
        a task still to do, unless that deliverable has this commit already."""
        if self.status != TicketStatus.OPEN:
            return []
        found = []
        for stage in self.definition.stages:
            task = self.tasks[stage.key]
            if task.kind != "stage" or task.status not in ACTIVE_TASK:
                continue
            attached = self.deliverables.get(stage.key, {})
            for spec in self.contract(stage.key):
                if spec.kind == "git_commit" and all(
                    v.value != sha for v in attached.get(spec.key, [])
                ):
                    found.append((stage.key, spec.key))
        return found

    def attach_commit(self, commit: GitCommit, signal_id: str, now: datetime) -> list[TicketEvent]:
        """A commit a git server pushed naming this ticket: a new version of every deliverable
        that expects one (`commit_targets`), or, where none does, a `commit_referenced` event.

        The git server is trusted by its delivery's signature, not by a group: it attaches to
        any stage's task still to do. A signal id recorded before is a redelivery, and a
        closed ticket takes nothing: no event.
        """
        if self.status != TicketStatus.OPEN or signal_id in self.commit_signals:
            return []
        self.commit_signals.append(signal_id)
        targets = self.commit_targets(commit.sha)
        if not targets:
            data = commit.model_dump(mode="json")
            return [self.record_event("commit_referenced", GIT, now, data)]
        given = Submission(value=commit.sha)
        return [
            self._add_version(stage_key, key, GIT, given, now, commit=commit)
            for stage_key, key in targets
        ]

    def check_amend(
        self, stage_key: str, actor: Actor, deliverables: list[DeliverableSpec], reason: str
    ) -> None:
        """The owning department (or an admin) replaces one stage's contract, with a reason."""
        self._contract_stage(stage_key)
        owner = self.definition.department
        if actor.role != ADMIN_ROLE and actor.department != owner:
            raise TicketRuleError(
                "forbidden", f"only department {owner!r} amends this ticket's contract"
            )
        problems: list[Problem] = []
        if not reason.strip():
            problems.append(Problem(pointer="/reason", detail="give the reason for the change"))
        stage = self.definition.stage(stage_key).model_copy(update={"deliverables": deliverables})
        for p in contract_problems([stage], automated=set()):
            problems.append(p.model_copy(update={"pointer": p.pointer.removeprefix("/stages/0")}))
        if problems:
            raise TicketRuleError("invalid", "the amended contract is not valid", problems)

    def amend_contract(
        self,
        stage_key: str,
        actor: Actor,
        deliverables: list[DeliverableSpec],
        reason: str,
        now: datetime,
    ) -> TicketEvent:
        """Replace one stage's contract on this ticket; the timeline says who, why and what."""
        self.check_amend(stage_key, actor, deliverables, reason)
        before = [d.key for d in self.contract(stage_key)]
        self.contracts[stage_key] = list(deliverables)
        return self._task_event(
            "contract_amended",
            self.tasks[stage_key],
            actor.user,
            now,
            reason=reason,
            before=before,
            deliverables=[d.key for d in deliverables],
        )

    def check_reassign(
        self, stage_key: str, actor: Actor, to_group: str | None, to_user: str | None
    ) -> Task:
        """A task still to do can move to another group or person, by its group or an admin."""
        self._require_open()
        task = self.task(stage_key)
        if task.status not in ACTIVE_TASK:
            raise TicketRuleError("conflict", f"task {task.id} is {task.status.value}")
        self._require_member(task, actor)
        if (
            task.status == TaskStatus.CLAIMED
            and task.assignee != actor.user
            and actor.role != ADMIN_ROLE
        ):
            raise TicketRuleError("conflict", f"task {task.id} is claimed by {task.assignee}")
        if not to_group and not to_user:
            raise TicketRuleError("invalid", "give to_group, to_user or both")
        return task

    def check_withdraw(self, ref: str, actor: Actor) -> Task:
        """A follow-up still to do is withdrawn by its group, the owning department or an admin."""
        self._require_open()
        task = self.task(ref)
        if task.kind != "followup":
            raise TicketRuleError("invalid", f"{ref!r} is a stage; only a follow-up is withdrawn")
        if task.status not in ACTIVE_TASK:
            raise TicketRuleError("conflict", f"follow-up {task.id} is {task.status.value}")
        owners = (task.group, self.definition.department)
        if actor.role != ADMIN_ROLE and actor.department not in owners:
            raise TicketRuleError(
                "forbidden",
                f"follow-up {task.id} is withdrawn by group {task.group!r} or "
                f"department {self.definition.department!r}",
            )
        return task

    def check_cancel(self) -> None:
        """A ticket can be cancelled until it is closed."""
        if self.status in FINAL_TICKET:
            raise TicketRuleError("conflict", f"ticket {self.key} is {self.status.value}")

    def check_comment(self) -> None:
        """Comments are accepted until the ticket is closed or cancelled."""
        self.check_cancel()

    def check_reopen(self, stages: list[str] | None) -> list[str]:
        """A resolved ticket can be reopened; returns the stages that will run again."""
        if self.status != TicketStatus.RESOLVED:
            raise TicketRuleError(
                "conflict", f"ticket {self.key} is {self.status.value}, not resolved"
            )
        chosen = stages or [
            s for s in ends(self.definition) if self.tasks[s].status != TaskStatus.SKIPPED
        ]
        unknown = [s for s in chosen if s not in self.tasks]
        if unknown:
            raise TicketRuleError("not_found", f"unknown stages: {', '.join(unknown)}")
        skipped = [s for s in chosen if self.tasks[s].status == TaskStatus.SKIPPED]
        if skipped:
            raise TicketRuleError(
                "conflict",
                f"stages not on the path this ticket took: {', '.join(skipped)}",
            )
        return downstream(self.definition, chosen)

    def check_confirm(self, actor: Actor) -> None:
        """Only the requester (or an admin) confirms a resolved ticket."""
        if self.status != TicketStatus.RESOLVED:
            raise TicketRuleError(
                "conflict", f"ticket {self.key} is {self.status.value}, not resolved"
            )
        if actor.user != self.requester.user and actor.role != ADMIN_ROLE:
            raise TicketRuleError("forbidden", "only the requester can confirm the resolution")

    # -- transitions ----------------------------------------------------------------------

    def record_event(
        self, type_: str, actor: str, now: datetime, data: dict[str, Any]
    ) -> TicketEvent:
        """Record one change as the next event; every event of a ticket is appended here."""
        event = TicketEvent(seq=self.last_seq + 1, type=type_, at=now, actor=actor, data=data)
        self.events.append(event)
        self.updated_at = now
        return event

    def _task_event(
        self, type_: str, task: Task, actor: str, now: datetime, **extra: Any
    ) -> TicketEvent:
        data: dict[str, Any] = {
            "task": task.id,
            "stage": task.stage_key,
            "group": task.group,
            "assignee": task.assignee,
        }
        if task.kind != "stage":
            data["kind"] = task.kind
        data.update(extra)
        return self.record_event(type_, actor, now, data)

    def expression_context(self) -> dict[str, Any]:
        """What conditions and parameters see: intake, stage data, the ticket, computed fields."""
        return {
            "intake": self.intake,
            "stages": {key: {"data": task.data} for key, task in self.tasks.items()},
            "ticket": {
                "key": self.key,
                "priority": self.priority,
                "status": self.status.value,
                "definition": f"{self.definition.key}@{self.definition.version}",
            },
            "fields": self.fields,
        }

    def open_ready_tasks(self, now: datetime) -> list[TicketEvent]:
        """Move the process on: decide gateways, start or skip stages; resolve when all are over.

        A pending stage whose incoming paths are all decided starts if one of them was taken
        (at once if it has none) and is skipped otherwise, so a join waits only for the paths
        taken. An open follow-up holds the resolution back until it is done: the escalation it
        answers is part of the ticket's work.
        """
        if self.status != TicketStatus.OPEN:
            return []
        events: list[TicketEvent] = []
        into = incoming(self.definition)
        changed = True
        while changed:
            changed = False
            for stage in self.definition.stages:
                task = self.tasks[stage.key]
                if task.status == TaskStatus.DONE and self._undecided(stage, task):
                    events.append(self._decide(stage, task, now))
                    changed = True
                elif task.status == TaskStatus.PENDING:
                    states = [self._edge_state(e) for e in into[stage.key]]
                    if "pending" in states:
                        continue
                    if states and "taken" not in states:
                        events.append(self._skip(task, into[stage.key], now))
                    else:
                        started = self._start(stage, task, now)
                        events += [started] if started is not None else []
                    changed = True
        finished = all(self.tasks[s.key].status in FINISHED_TASK for s in self.definition.stages)
        if finished and not self.open_followups():
            self.status = TicketStatus.RESOLVED
            self.resolved_at = now
            deadline = self.confirmation_deadline
            events.append(
                self.record_event(
                    "resolved",
                    SYSTEM,
                    now,
                    {"confirm_by": deadline.isoformat() if deadline else None},
                )
            )
        return events

    @staticmethod
    def _undecided(stage: StageDefinition, task: Task) -> bool:
        # A wait that timed out takes its timeout path instead of its gateway.
        return stage.gateway is not None and task.chosen is None and not task.timed_out

    def _edge_state(self, edge: Edge) -> str:
        source = self.tasks[edge.source]
        return edge_state(
            edge, status=source.status.value, timed_out=source.timed_out, chosen=source.chosen
        )

    def _decide(self, stage: StageDefinition, task: Task, now: datetime) -> TicketEvent:
        assert stage.gateway is not None
        choice = choose(stage.gateway, self.expression_context())
        task.chosen = choice.taken
        extra: dict[str, Any] = {
            "type": stage.gateway.type,
            "taken": choice.taken,
            "default": choice.default,
        }
        if choice.error is not None:
            extra["error"] = choice.error
        return self._task_event("gateway_decided", task, SYSTEM, now, **extra)

    def _skip(self, task: Task, edges_in: list[Edge], now: datetime) -> TicketEvent:
        task.status = TaskStatus.SKIPPED
        reasons = []
        for edge in edges_in:
            source = self.tasks[edge.source]
            if source.status == TaskStatus.SKIPPED:
                reasons.append(f"{edge.source} was skipped")
            elif edge.kind == "timeout":
                reasons.append(f"{edge.source} did not time out")
            elif source.timed_out:
                reasons.append(f"{edge.source} timed out")
            else:
                chose = ", ".join(source.chosen or []) or "nothing"
                reasons.append(f"the gateway of {edge.source} chose {chose}")
        reason = "no path into it was taken: " + "; ".join(dict.fromkeys(reasons))
        return self._task_event("stage_skipped", task, SYSTEM, now, reason=reason)

    def _calendar(self, ref: str | None) -> BusinessCalendar:
        # Publishing puts every calendar a stage names into the snapshot; without one, a
        # duration is calendar time.
        if ref is None or ref == ALWAYS:
            return ALWAYS_CALENDAR
        return self.definition.calendars.get(ref, ALWAYS_CALENDAR)

    def _start(self, stage: StageDefinition, task: Task, now: datetime) -> TicketEvent | None:
        """A ready stage starts: a person's task opens, an automated one runs.

        A subprocess records `subprocess_started` once its child has a key (None here).
        """
        task.opened_at = now
        if stage.kind == "task":
            task.status = TaskStatus.OPEN
            return self._task_event("task_opened", task, SYSTEM, now)
        task.status = TaskStatus.RUNNING
        if stage.service is not None:
            return self._task_event(
                "service_started",
                task,
                SYSTEM,
                now,
                action=stage.service.action,
                attempt_limit=stage.service.retry.maximum_attempts,
            )
        if stage.wait is not None:
            wait = stage.wait
            if wait.timeout is not None:
                task.until = add_business(self._calendar(wait.calendar), now, wait.timeout)
            until = task.until.isoformat() if task.until else None
            return self._task_event(
                "wait_started", task, SYSTEM, now, signal=wait.signal, until=until
            )
        if stage.timer is not None:
            return self._start_timer(stage, task, now)
        return None

    def _start_timer(self, stage: StageDefinition, task: Task, now: datetime) -> TicketEvent:
        assert stage.timer is not None
        timer, error = stage.timer, None
        task.until = now
        if timer.duration is not None:
            task.until = add_business(self._calendar(timer.calendar), now, timer.duration)
        elif timer.until is not None:
            try:
                task.until = max(instant(timer.until, self.expression_context()), now)
            except ExpressionError as exc:
                # An instant the data cannot give: the timer fires at once, saying why.
                error = str(exc)
        extra: dict[str, Any] = {"until": task.until.isoformat()}
        if error is not None:
            extra["error"] = error
        return self._task_event("timer_started", task, SYSTEM, now, **extra)

    def claim(self, stage_key: str, actor: Actor, now: datetime) -> TicketEvent | None:
        """Claim a task for the actor; claiming one's own claimed task changes nothing."""
        task = self.check_claim(stage_key, actor)
        if task.status == TaskStatus.CLAIMED:
            return None
        task.status, task.assignee, task.claimed_at = TaskStatus.CLAIMED, actor.user, now
        return self._task_event("task_claimed", task, actor.user, now)

    def unclaim(self, stage_key: str, actor: Actor, now: datetime) -> TicketEvent:
        """Put a claimed task back in its group's queue."""
        task = self.check_unclaim(stage_key, actor)
        task.status, task.assignee, task.claimed_at = TaskStatus.OPEN, None, None
        return self._task_event("task_unclaimed", task, actor.user, now)

    def complete(
        self,
        stage_key: str,
        actor: Actor,
        data: dict[str, Any],
        now: datetime,
        *,
        contract: bool = True,
    ) -> TicketEvent:
        """Complete a claimed task with its form data.

        A failed service stage's task: `retry` runs the action again (`service_retried`);
        `skip` finishes the stage without its output (data `{"skipped": reason}`, event
        `service_skipped`), so the paths after it are taken as if it had run.
        """
        task = self.check_complete(stage_key, actor, data, contract=contract)
        if task.kind == "service" and data["decision"] == "retry":
            task.status, task.assignee, task.claimed_at = TaskStatus.RUNNING, None, None
            task.error = None
            return self._task_event("service_retried", task, actor.user, now, by=actor.user)
        skipped = task.kind == "service"
        task.status, task.completed_at, task.completed_by, task.data = (
            TaskStatus.DONE,
            now,
            actor.user,
            {"skipped": data["reason"]} if skipped else data,
        )
        if skipped:
            return self._task_event(
                "service_skipped", task, actor.user, now, by=actor.user, reason=data["reason"]
            )
        return self._task_event("task_completed", task, actor.user, now, form=data)

    def reassign(
        self,
        stage_key: str,
        actor: Actor,
        to_group: str | None,
        to_user: str | None,
        reason: str,
        now: datetime,
    ) -> TicketEvent:
        """Move a task to another group (back to its queue) and/or hand it to a person."""
        task = self.check_reassign(stage_key, actor, to_group, to_user)
        return self._move(task, actor.user, to_group, to_user, reason, now)

    def reassign_overdue(
        self, stage_key: str, actor: str, to_group: str, reason: str, now: datetime
    ) -> TicketEvent | None:
        """An SLA rung moves a stage's task still to do to another group's queue.

        The same change as a person's reassign, by the system actor `actor`, without the
        membership check (the definition's ladder decided it); None if the task is not active.
        """
        task = self.task(stage_key)
        if self.status != TicketStatus.OPEN or task.status not in ACTIVE_TASK:
            return None
        return self._move(task, actor, to_group, None, reason, now)

    def _move(
        self,
        task: Task,
        actor: str,
        to_group: str | None,
        to_user: str | None,
        reason: str,
        now: datetime,
    ) -> TicketEvent:
        before = {"group": task.group, "assignee": task.assignee}
        if to_group:
            task.group = to_group
        if to_user:
            task.status, task.assignee, task.claimed_at = TaskStatus.CLAIMED, to_user, now
        else:
            task.status, task.assignee, task.claimed_at = TaskStatus.OPEN, None, None
        return self._task_event("task_reassigned", task, actor, now, reason=reason, before=before)

    def route(
        self, stage_keys: list[str], team: str, holders: tuple[str, ...], actor: str, now: datetime
    ) -> list[TicketEvent]:
        """Hand the unfinished tasks of `stage_keys` held by `holders` to `team`'s queue.

        Triage's routing: one `task_routed` event per task that moved.
        """
        events = []
        for key in stage_keys:
            task = self.tasks[key]
            if task.status not in (TaskStatus.PENDING, *ACTIVE_TASK) or task.group not in holders:
                continue
            before = {"group": task.group, "assignee": task.assignee}
            task.group = team
            if task.status == TaskStatus.CLAIMED:
                task.status, task.assignee, task.claimed_at = TaskStatus.OPEN, None, None
            events.append(self._task_event("task_routed", task, actor, now, before=before))
        return events

    def open_followup(
        self,
        group: str,
        title: str,
        clock: str,
        actor: str,
        now: datetime,
        *,
        legacy_key: str | None = None,
    ) -> TicketEvent:
        """Open an escalation's follow-up task for `group`, with the next follow-up id."""
        followup_id = f"F{len(self.followups) + 1}"
        task = Task(
            id=f"{self.key}:{followup_id}:1",
            stage_key=followup_id,
            title=title[:200],
            group=group,
            kind="followup",
            clock=clock,
            legacy_key=legacy_key,
            status=TaskStatus.OPEN,
            opened_at=now,
        )
        self.followups[followup_id] = task
        return self._task_event("task_opened", task, actor, now, escalation=clock)

    def withdraw(self, ref: str, actor: Actor, reason: str, now: datetime) -> list[TicketEvent]:
        """Withdraw a follow-up; the ticket resolves if nothing else is left to do."""
        task = self.check_withdraw(ref, actor)
        task.status = TaskStatus.CANCELLED
        event = self._task_event("task_cancelled", task, actor.user, now, reason=reason)
        return [event, *self.open_ready_tasks(now)]

    def _cancel_followups(self, actor: str, reason: str, now: datetime) -> list[TicketEvent]:
        """A final ticket leaves no follow-up in a queue."""
        events = []
        for task in self.open_followups():
            task.status = TaskStatus.CANCELLED
            events.append(self._task_event("task_cancelled", task, actor, now, reason=reason))
        return events

    def change_priority(
        self, actor: str, priority: Priority, reason: str, now: datetime
    ) -> TicketEvent | None:
        """Set the priority (checked by the caller's rules); None if it does not change."""
        if priority == self.priority:
            return None
        before, self.priority = self.priority, priority
        return self.record_event(
            "priority_changed", actor, now, {"from": before, "to": priority, "reason": reason}
        )

    # -- expedites the sentiment model proposes; a person decides ------------------------

    def propose_expedite(
        self, record_id: int, supervisor_group: str, now: datetime
    ) -> TicketEvent | None:
        """Propose a higher priority and a supervisor's task; None if the ticket is not open
        or a proposal already waits for a decision (one at a time)."""
        if self.status != TicketStatus.OPEN:
            return None
        if any(p.status == "proposed" for p in self.expedites.values()):
            return None
        proposal = ExpediteProposal(
            id=f"E{len(self.expedites) + 1}",
            record_id=record_id,
            supervisor_group=supervisor_group,
            priority_from=self.priority,
            priority_to=raised(self.priority),
            proposed_at=now,
        )
        self.expedites[proposal.id] = proposal
        return self.record_event(
            "expedite_proposed",
            SENTIMENT_ACTOR,
            now,
            {
                "proposal": proposal.id,
                "record": record_id,
                "group": supervisor_group,
                "priority_from": proposal.priority_from,
                "priority_to": proposal.priority_to,
            },
        )

    def check_expedite_decision(self, proposal_id: str, actor: Actor) -> ExpediteProposal:
        """A waiting proposal of an open ticket, decided by its supervisor group or an admin."""
        proposal = self.expedites.get(proposal_id)
        if proposal is None:
            raise TicketRuleError("not_found", f"ticket {self.key} has no proposal {proposal_id}")
        self._require_open()
        if proposal.status != "proposed":
            raise TicketRuleError("conflict", f"proposal {proposal_id} is {proposal.status}")
        if actor.role != ADMIN_ROLE and actor.department != proposal.supervisor_group:
            raise TicketRuleError(
                "forbidden",
                f"only group {proposal.supervisor_group} decides proposal {proposal_id}",
            )
        return proposal

    def decide_expedite(
        self, proposal_id: str, actor: Actor, decision: Decision, reason: str, now: datetime
    ) -> list[TicketEvent]:
        """Confirm (priority up, a task for the supervisor group) or decline a proposal."""
        proposal = self.check_expedite_decision(proposal_id, actor)
        proposal.decided_at, proposal.decided_by, proposal.reason = now, actor.user, reason
        if decision == "decline":
            proposal.status = "declined"
            data = {"proposal": proposal.id, "reason": reason}
            return [self.record_event("expedite_declined", actor.user, now, data)]
        proposal.status = "confirmed"
        events = [
            self.record_event(
                "expedite_confirmed", actor.user, now, {"proposal": proposal.id, "reason": reason}
            )
        ]
        changed = self.change_priority(
            actor.user, proposal.priority_to, f"expedite {proposal.id} confirmed", now
        )
        events += [changed] if changed else []
        task = Task(
            id=f"{self.key}:F{len(self.followups) + 1}:1",
            stage_key=f"F{len(self.followups) + 1}",
            title=f"Expedite {self.key}: call the customer"[:200],
            group=proposal.supervisor_group,
            kind="followup",
            status=TaskStatus.OPEN,
            opened_at=now,
        )
        self.followups[task.stage_key] = task
        proposal.task = task.stage_key
        events.append(self._task_event("task_opened", task, actor.user, now, expedite=proposal.id))
        return events

    def withdraw_expedites(self, now: datetime) -> list[TicketEvent]:
        """Withdraw the proposals still waiting (consent to the analysis behind them ended)."""
        events = []
        for proposal in self.expedites.values():
            if proposal.status == "proposed":
                proposal.status, proposal.decided_at = "withdrawn", now
                data = {"proposal": proposal.id}
                events.append(self.record_event("expedite_withdrawn", SENTIMENT_ACTOR, now, data))
        return events

    def start_waiting(self, actor: str, reason: str, note: str, now: datetime) -> TicketEvent:
        """The ticket waits for `reason` (checked by the caller's rules)."""
        self.waiting_for = reason
        return self.record_event("waiting_started", actor, now, {"reason": reason, "note": note})

    def end_waiting(self, actor: str, note: str, now: datetime) -> list[TicketEvent]:
        """The wait is over; nothing if the ticket was not waiting."""
        if self.waiting_for is None:
            return []
        reason, self.waiting_for = self.waiting_for, None
        return [self.record_event("waiting_ended", actor, now, {"reason": reason, "note": note})]

    def comment(self, actor: Actor, body: str, internal: bool, now: datetime) -> TicketEvent:
        """Add a comment; internal comments are for the handling groups only."""
        self.check_comment()
        return self.record_event(
            "comment_added", actor.user, now, {"body": body, "internal": internal}
        )

    def cancel(self, actor: Actor, reason: str, now: datetime) -> list[TicketEvent]:
        """Cancel the ticket: its wait ends, every task and follow-up still to do is cancelled."""
        self.check_cancel()
        events = self.end_waiting(actor.user, "the ticket was cancelled", now)
        events += self._cancel_followups(actor.user, "the ticket was cancelled", now)
        # Automated stages still running are cancelled too; the workflow then stops their
        # activity, timer or child ticket.
        for task in self.tasks.values():
            if task.status in (TaskStatus.PENDING, *CLOCKED_TASK):
                task.status = TaskStatus.CANCELLED
        self.status, self.cancel_reason, self.closed_at = TicketStatus.CANCELLED, reason, now
        return [*events, self.record_event("cancelled", actor.user, now, {"reason": reason})]

    def reopen(
        self, actor: Actor, reason: str, stages: list[str] | None, now: datetime
    ) -> list[TicketEvent]:
        """Send a resolved ticket back: the chosen stages and all after them run again.

        Their gateways decide again, and the stages skipped after them are reconsidered.
        """
        redo = self.check_reopen(stages)
        for key in redo:
            old = self.tasks[key]
            stage = self.definition.stage(key)
            self.tasks[key] = Task(
                id=f"{self.key}:{key}:{old.round + 1}",
                stage_key=key,
                title=stage.title,
                group=old.group,
                kind=old.kind,
                round=old.round + 1,
            )
        self.status, self.resolved_at = TicketStatus.OPEN, None
        event = self.record_event("reopened", actor.user, now, {"reason": reason, "stages": redo})
        return [event, *self.open_ready_tasks(now)]

    def confirm(self, actor: Actor, comment: str, now: datetime) -> list[TicketEvent]:
        """The requester confirms the resolution: the ticket closes."""
        self.check_confirm(actor)
        return self._close(actor.user, now, {"by": "requester", "comment": comment})

    def close_unconfirmed(self, now: datetime) -> list[TicketEvent]:
        """Close a resolved ticket whose confirmation window ran out."""
        return self._close("system", now, {"by": "timeout"})

    def _close(self, actor: str, now: datetime, data: dict[str, Any]) -> list[TicketEvent]:
        events = self.end_waiting(actor, "the ticket was closed", now)
        events += self._cancel_followups(actor, "the ticket was closed", now)
        self.status, self.closed_at = TicketStatus.CLOSED, now
        return [*events, self.record_event("closed", actor, now, data)]

    # -- automated stages: what the workflow reports back -----------------------------------

    def _running(self, stage_key: str, kind: AutomatedKind) -> tuple[StageDefinition, Task]:
        """The running task of an automated stage of this kind (the check of its transitions)."""
        self._require_open()
        task = self.task(stage_key)
        if task.kind != kind or task.status != TaskStatus.RUNNING:
            raise TicketRuleError(
                "conflict", f"task {task.id} is not a running {kind} ({task.status.value})"
            )
        return self.definition.stage(stage_key), task

    def _finish(self, task: Task, data: dict[str, Any], now: datetime) -> None:
        task.status, task.completed_at, task.completed_by, task.data = (
            TaskStatus.DONE,
            now,
            SYSTEM,
            data,
        )

    def service_input(self, stage_key: str) -> ActionInput:
        """A running service stage's action call, its `=` parameters evaluated now.

        ExpressionError when a parameter cannot be evaluated on the ticket's data.
        """
        stage, _task = self._running(stage_key, "service")
        assert stage.service is not None
        params = evaluate_params(stage.service.params, prepare(self.expression_context()))
        return ActionInput(
            ticket_key=self.key, stage=stage_key, action=stage.service.action, params=params
        )

    def service_completed(
        self, stage_key: str, output: dict[str, Any], now: datetime
    ) -> list[TicketEvent]:
        """The action succeeded: its output is the stage's data; the process moves on."""
        stage, task = self._running(stage_key, "service")
        assert stage.service is not None
        self._finish(task, output, now)
        if stage.service.action == SET_FIELDS.name:
            self.fields.update(output)
        event = self._task_event(
            "service_completed", task, SYSTEM, now, action=stage.service.action, output=output
        )
        return [event, *self.open_ready_tasks(now)]

    def service_snapshot_taken(
        self, stage_key: str, snapshot: Snapshot, now: datetime
    ) -> list[TicketEvent]:
        """A `device.snapshot` stage read its device (or gave up on it): the summary is its data.

        An unreachable device's snapshot, every reading bad, completes the stage all the same.
        """
        _stage, task = self._running(stage_key, "service")
        evidence = evidence_data(snapshot)
        event = self._task_event("device_snapshot_taken", task, SYSTEM, now, **evidence)
        return [event, *self.service_completed(stage_key, snapshot_summary(snapshot), now)]

    def intake_snapshot_taken(self, snapshot: Snapshot, now: datetime) -> TicketEvent:
        """The intake's device was read at creation; its summary is kept for what comes next."""
        self._require_open()
        self.intake_snapshot = snapshot_summary(snapshot)
        return self.record_event("device_snapshot_taken", SYSTEM, now, evidence_data(snapshot))

    def claim_snapshot_taken(
        self, stage_key: str, snapshot: Snapshot, now: datetime
    ) -> TicketEvent:
        """The intake's device was read because someone claimed this stage's task (started it)."""
        self._require_open()
        return self._task_event(
            "device_snapshot_taken", self.task(stage_key), SYSTEM, now, **evidence_data(snapshot)
        )

    def service_failed(
        self, stage_key: str, error: str, attempts: int | None, now: datetime
    ) -> TicketEvent:
        """The action failed for good: a person of the stage's group fixes and retries, or skips.

        `attempts` is how many were made (None when the workflow cannot tell).
        """
        stage, task = self._running(stage_key, "service")
        assert stage.service is not None
        task.status, task.error = TaskStatus.OPEN, error
        return self._task_event(
            "service_failed",
            task,
            SYSTEM,
            now,
            action=stage.service.action,
            error=error,
            attempts=attempts,
        )

    def waits_for(self, name: str, payload: dict[str, Any]) -> list[str]:
        """The running waits this signal ends: named so, with a correlation that holds.

        A correlation that cannot be evaluated on the payload does not hold.
        """
        if self.status != TicketStatus.OPEN:
            return []
        try:
            context = prepare({**self.expression_context(), "signal": payload})
        except ExpressionError:
            return []
        found = []
        for stage in self.definition.stages:
            task = self.tasks[stage.key]
            wait = stage.wait
            if task.status != TaskStatus.RUNNING or wait is None or wait.signal != name:
                continue
            try:
                if wait.correlation is None or holds(wait.correlation, context):
                    found.append(stage.key)
            except ExpressionError:
                continue
        return found

    def wait_matched(
        self, stage_key: str, payload: dict[str, Any], signal_id: str, now: datetime
    ) -> list[TicketEvent]:
        """The signal arrived: its payload is the stage's data; the paths after it are taken."""
        stage, task = self._running(stage_key, "wait")
        assert stage.wait is not None
        self._finish(task, payload, now)
        event = self._task_event(
            "wait_matched", task, SYSTEM, now, signal=stage.wait.signal, signal_id=signal_id
        )
        return [event, *self.open_ready_tasks(now)]

    def wait_timed_out(self, stage_key: str, now: datetime) -> list[TicketEvent]:
        """No signal in time: only the wait's `on_timeout` path is taken."""
        stage, task = self._running(stage_key, "wait")
        assert stage.wait is not None
        self._finish(task, {}, now)
        task.timed_out = True
        event = self._task_event("wait_timed_out", task, SYSTEM, now, signal=stage.wait.signal)
        return [event, *self.open_ready_tasks(now)]

    def timer_fired(self, stage_key: str, now: datetime) -> list[TicketEvent]:
        """The timer's instant came."""
        _stage, task = self._running(stage_key, "timer")
        self._finish(task, {}, now)
        return [self._task_event("timer_fired", task, SYSTEM, now), *self.open_ready_tasks(now)]

    def subprocess_intake(self, stage_key: str) -> dict[str, Any]:
        """The child's intake, each field's expression evaluated now (ExpressionError if not)."""
        stage, _task = self._running(stage_key, "subprocess")
        assert stage.subprocess is not None
        return evaluate_fields(stage.subprocess.intake, prepare(self.expression_context()))

    def subprocess_started(
        self, stage_key: str, child: str, definition: str, now: datetime
    ) -> TicketEvent:
        """The child ticket has its key (`definition` is its `key@version`)."""
        _stage, task = self._running(stage_key, "subprocess")
        task.child = child
        return self._task_event(
            "subprocess_started", task, SYSTEM, now, child=child, definition=definition
        )

    def subprocess_closed(
        self,
        stage_key: str,
        status: str,
        now: datetime,
        *,
        error: str | None = None,
    ) -> list[TicketEvent]:
        """The child ended (closed, cancelled) or could not start (`failed`, with the error).

        The stage's data is `{"key", "status"}` of the child, for the conditions after it.
        """
        _stage, task = self._running(stage_key, "subprocess")
        self._finish(task, {"key": task.child, "status": status}, now)
        extra: dict[str, Any] = {"child": task.child, "status": status}
        if error is not None:
            task.error = extra["error"] = error
        event = self._task_event("subprocess_closed", task, SYSTEM, now, **extra)
        return [event, *self.open_ready_tasks(now)]

    def record_report(
        self, type_: str, actor: str, now: datetime, data: dict[str, Any], report_id: str
    ) -> TicketEvent | None:
        """Record a duplicate report or link once per report id (None for a repeat)."""
        if report_id:
            if report_id in self.report_ids:
                return None
            self.report_ids.append(report_id)
        return self.record_event(type_, actor, now, data)

    def record_external(
        self,
        name: str,
        source: str,
        payload: dict[str, Any],
        now: datetime,
        *,
        signal_id: str = "",
        fingerprint: str = "",
    ) -> TicketEvent | None:
        """Record a signal from an outside system (monitoring, CRM, a customer's reply).

        A signal carrying the id of one already recorded is a retry: None, nothing recorded.
        """
        data: dict[str, Any] = {"name": name, "payload": payload}
        if signal_id:
            if any(
                e.type == "external_event" and e.data.get("signal_id") == signal_id
                for e in self.events
            ):
                return None
            data.update(signal_id=signal_id, fingerprint=fingerprint)
        return self.record_event("external_event", source, now, data)


def _not_workable(task: Task, wanted: str) -> str:
    """Why a person cannot act on this task now."""
    if task.status == TaskStatus.RUNNING:
        return (
            f"task {task.id} is running: its {task.kind} stage is under way by the system, "
            "and no one claims or completes it"
        )
    if task.status == TaskStatus.SKIPPED:
        return f"task {task.id} is skipped: its stage is not on the path this ticket took"
    return f"task {task.id} is {task.status.value}, not {wanted}"


def decision_problems(data: dict[str, Any]) -> list[Problem]:
    """What is wrong with a decision on a failed service stage."""
    decision = data.get("decision")
    if decision not in ("retry", "skip"):
        return [Problem(pointer=pointer("decision"), detail="must be 'retry' or 'skip'")]
    allowed = {"decision", "reason"} if decision == "skip" else {"decision"}
    problems = [
        Problem(pointer=pointer(k), detail="not part of this decision")
        for k in sorted(set(data) - allowed)
    ]
    reason = data.get("reason")
    if decision == "skip" and not (isinstance(reason, str) and reason.strip()):
        problems.append(Problem(pointer=pointer("reason"), detail="say why the stage is skipped"))
    return problems
