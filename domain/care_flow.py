"""The care of one closed ticket, as data: what `CareWorkflow` is given, records, asks and sends.

A definition that opts in (`care: {strategy: KEY}`) has each closed ticket's customer cared
for by a `CareWorkflow`, a child of the ticket that outlives it. It plans with
`domain.care.plan_care`, waits on durable timers until each action is due, opens a task for a
person when an action needs confirming, and sends each action through the care connector. Every
step is one record: on the ticket's timeline and in the customer's history.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, Field

from domain.care import ACTIONS, CareStrategy, PlannedAction, TicketContext
from domain.customers import CUSTOMER_ID_PATTERN, Customer, Purpose
from domain.ticket import Actor, TicketEvent

CARE_WORKFLOW = "CareWorkflow"
CARE_PREPARE_ACTIVITY = "care_prepare"
CARE_RECORD_ACTIVITY = "care_record"
CARE_SEND_ACTIVITY = "care_send"
CARE_REVOKED_SIGNAL = "consent_revoked"
CARE_DECIDE_UPDATE = "decide"
# The one purpose a care message needs.
CARE_PURPOSE: Purpose = "care_messages"
# Messages to the customer need their consent; a supervisor's call is a person's task.
MESSAGE_ACTIONS = frozenset(ACTIONS) - {"supervisor_call"}
DEFAULT_CONFIRM_WITHIN = timedelta(hours=48)
MAX_REASON = 2000

RecordType = Literal["care_started", "care_action", "care_ended"]
Outcome = Literal[
    # The connector delivered it, or recorded it with no channel configured.
    "sent",
    "recorded",
    # No consent in force when it was due (checked at send time).
    "no_consent",
    # The customer revoked consent before it was sent.
    "stopped",
    "awaiting_confirmation",
    "approved",
    "declined",
    "lapsed",
    # The connector refused or kept failing; the error says why.
    "failed",
]
SendOutcome = Literal["sent", "recorded", "no_consent"]
TaskStatus = Literal["open", "approved", "declined", "lapsed", "withdrawn"]
ErrorKind = Literal["not_found", "conflict", "forbidden", "invalid"]


def care_workflow_id(ticket_key: str) -> str:
    """The id of the care workflow of a ticket (one per ticket)."""
    return f"care-{ticket_key}"


def care_task_id(ticket_key: str, action: str) -> str:
    """The id of an action's confirmation task (a plan holds each action once)."""
    return f"{ticket_key}:{action}"


def intake_customer(intake: Mapping[str, Any]) -> str | None:
    """The customer an intake names, if it names one."""
    named = intake.get("customer_id")
    return named if isinstance(named, str) and named else None


def ticket_context(
    key: str, definition: str, intake: Mapping[str, Any], events: list[TicketEvent]
) -> TicketContext:
    """What a strategy reads of a closed ticket: its category (the intake's, else triage's)."""
    category = intake.get("category")
    if not isinstance(category, str):
        triaged = [e for e in events if e.type == "triaged"]
        found = triaged[-1].data.get("result", {}).get("category") if triaged else None
        category = found if isinstance(found, str) else None
    product = intake.get("product_id")
    return TicketContext(
        key=key,
        definition=definition,
        category=category,
        product_id=product if isinstance(product, str) else None,
    )


def without_contact(customer: Customer) -> Customer:
    """The customer as a workflow may hold it: contact fields are read at send time only."""
    return customer.model_copy(update={"email": None, "phone": None, "address": None})


class CarePrepareInput(BaseModel):
    """What the closing ticket asks before its care starts."""

    ticket_key: str
    customer_id: str = Field(pattern=CUSTOMER_ID_PATTERN)


class CarePrepared(BaseModel):
    """The customer (no contact fields; None when unknown) and the deployment's care settings."""

    customer: Customer | None = None
    department: str = ""
    confirm_within: timedelta = DEFAULT_CONFIRM_WITHIN


class CareInput(BaseModel):
    """One ticket's care: the ticket, its customer, the strategy version, when it closed."""

    ticket: TicketContext
    customer: Customer
    strategy: CareStrategy
    closed_at: datetime
    department: str = Field(description="The group confirmation tasks go to.")
    confirm_within: timedelta = DEFAULT_CONFIRM_WITHIN


class CareResult(BaseModel):
    """How each planned action ended, by action."""

    ticket_key: str
    outcomes: dict[str, Outcome] = Field(default_factory=dict)


class CareTask(BaseModel):
    """A confirmation a person gives (or not) before a `confirm` action is sent."""

    id: str
    ticket_key: str
    customer_id: str
    action: str
    rule: str
    group: str
    opened_at: datetime
    deadline: datetime
    status: TaskStatus = "open"
    decided_by: str | None = None
    decided_at: datetime | None = None
    reason: str = ""


class CareDecisionInput(BaseModel):
    """A person's approval or refusal of a confirmation task."""

    task_id: str
    approve: bool
    reason: str = Field(default="", max_length=MAX_REASON)
    actor: Actor
    request_fingerprint: str = ""


class CareDecisionResult(BaseModel):
    """The task as decided, and the fingerprint of the request that decided it."""

    task: CareTask
    request_fingerprint: str = ""


class ConsentRevokedInput(BaseModel):
    """A revocation, as a running care workflow is told of it."""

    purpose: Purpose
    at: datetime


class CareRecord(BaseModel):
    """One step of a ticket's care, kept once by (ticket, care_seq)."""

    ticket_key: str
    care_seq: int = Field(ge=1)
    customer_id: str
    type: RecordType
    at: datetime
    actor: str = "system"
    data: dict[str, Any] = Field(default_factory=dict)
    task: CareTask | None = Field(default=None, description="The task this step opened or ended.")


class CareRecordResult(BaseModel):
    """Whether the record was new (a retry finds it kept already)."""

    new: bool


class CareSendInput(BaseModel):
    """One due action for the connector."""

    ticket_key: str
    customer_id: str
    action: str
    rule: str
    due_at: datetime
    params: dict[str, Any] = Field(default_factory=dict)
    message: bool = Field(description="A message to the customer: needs consent at send time.")


def care_message_id(call: CareSendInput) -> str:
    """The action's id, the same on every attempt: a receiver keeps one of each."""
    return f"care-{call.ticket_key}-{call.rule}-{call.action}-{call.due_at.isoformat()}"


class CareSendResult(BaseModel):
    """What the connector did: sent it, recorded it (no channel), or found no consent."""

    outcome: SendOutcome
    channel: str = "none"
    status: int | None = None


class CareDecisionRefused(Exception):
    """A decision the task or the caller does not admit."""

    def __init__(self, kind: ErrorKind, message: str):
        super().__init__(message)
        self.kind = kind
        self.message = message


def may_decide(actor: Actor, department: str) -> bool:
    """Admins, and the agents of the care department."""
    return actor.role == "admin" or (actor.role == "agent" and actor.department == department)


def check_decision(tasks: Mapping[str, CareTask], cmd: CareDecisionInput) -> CareTask:
    """The open task a decision is about; CareDecisionRefused says why it cannot be decided."""
    task = tasks.get(cmd.task_id)
    if task is None:
        raise CareDecisionRefused("not_found", f"no care task {cmd.task_id}")
    if not may_decide(cmd.actor, task.group):
        raise CareDecisionRefused(
            "forbidden", f"only the {task.group} department decides care tasks"
        )
    if task.status != "open":
        raise CareDecisionRefused("conflict", f"care task {task.id} is {task.status} already")
    if not cmd.approve and not cmd.reason.strip():
        raise CareDecisionRefused("invalid", "a refusal needs a reason")
    return task


def decide(task: CareTask, cmd: CareDecisionInput, now: datetime) -> None:
    """Apply a checked decision to its task."""
    task.status = "approved" if cmd.approve else "declined"
    task.decided_by = cmd.actor.user
    task.decided_at = now
    task.reason = cmd.reason


def action_data(planned: PlannedAction, outcome: Outcome, **extra: Any) -> dict[str, Any]:
    """A `care_action` record's data: the action, its rule and due time, and what happened."""
    data: dict[str, Any] = {
        "action": planned.action,
        "rule": planned.rule,
        "mode": planned.mode,
        "due_at": planned.due_at.isoformat(),
        "outcome": outcome,
    }
    data.update({key: value for key, value in extra.items() if value is not None})
    return data


def started_data(strategy: CareStrategy, plan: list[PlannedAction]) -> dict[str, Any]:
    """A `care_started` record's data: the strategy version and the actions planned."""
    return {
        "strategy": f"{strategy.key}@{strategy.version}",
        "planned": [
            {"action": p.action, "rule": p.rule, "mode": p.mode, "due_at": p.due_at.isoformat()}
            for p in plan
        ],
    }
