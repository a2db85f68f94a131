"""Inputs and outputs of the TicketWorkflow, its Updates and Signals, and its activities.

One model per call; new fields must get defaults so recorded histories keep replaying.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from domain.definitions import ProcessDefinition
from domain.deliverables import DeliverableSpec, Submission
from domain.devices import Snapshot
from domain.notifications import NotifyInput
from domain.participation import Participant
from domain.recurrence import RecurrenceRef, RecurrenceWatchInput
from domain.sentiment import Decision
from domain.sla import DEFAULT_PRIORITY, WAITING_PATTERN, Priority, SlaClock
from domain.ticket import (
    Actor,
    ParentRef,
    Task,
    TicketEvent,
    TicketSnapshot,
    TicketState,
    TicketStatus,
)

TICKET_WORKFLOW = "TicketWorkflow"
PROJECT_ACTIVITY = "project_ticket"
CHILD_TICKET_ACTIVITY = "reserve_child_ticket"

EXTERNAL_SIGNAL = "external_event"
EXTERNAL_SIGNAL_NAMES = {
    "external_update": "An outside system (monitoring, CI, CRM/ERP) reports a change.",
    "customer_reply": "The customer answered, e.g. by e-mail or chat.",
    "device_alarm": "An IoT gateway reports an alarm on the ticket's device.",
    "commit_pushed": "A git server reports a commit that references the ticket.",
}


class StartTicketInput(BaseModel):
    """Start a ticket from a published definition snapshot, or resume carried state."""

    key: str
    definition: ProcessDefinition
    intake: dict[str, Any] = Field(default_factory=dict)
    requester: Actor
    resume: TicketState | None = None
    priority: Priority = DEFAULT_PRIORITY
    parent: ParentRef | None = Field(default=None, description="Set for a subprocess's child.")
    recurrence_of: RecurrenceRef | None = Field(
        default=None, description="Set when filed as a recurrence of a recently closed ticket."
    )


class TicketResult(BaseModel):
    """How a ticket ended."""

    key: str
    status: TicketStatus
    last_seq: int


class UpdateInput(BaseModel):
    """What every Update input carries besides its own fields."""

    # The API's fingerprint of the request; the result echoes it, so a retry under the same
    # Update id with another body (which Temporal answers with the first outcome) shows.
    request_fingerprint: str = ""


class ClaimInput(UpdateInput):
    """Claim a stage's task."""

    stage_key: str
    actor: Actor


class UnclaimInput(UpdateInput):
    """Give a claimed task back to its group's queue."""

    stage_key: str
    actor: Actor


class WithdrawInput(UpdateInput):
    """Withdraw a follow-up that is no longer needed; it stops holding the resolution back."""

    stage_key: str
    actor: Actor
    reason: str = ""


class CompleteInput(UpdateInput):
    """Complete a claimed task with form data."""

    stage_key: str
    actor: Actor
    data: dict[str, Any] = Field(default_factory=dict)


class AttachDeliverableInput(UpdateInput):
    """Attach a new version of one of a stage's deliverables (an artifact's metadata or a value)."""

    stage_key: str
    deliverable: str
    actor: Actor
    submission: Submission


class AmendContractInput(UpdateInput):
    """Replace one stage's contract on this ticket only, with a reason."""

    stage_key: str
    actor: Actor
    deliverables: list[DeliverableSpec]
    reason: str


class ReassignInput(UpdateInput):
    """Move a task to another group and/or person."""

    stage_key: str
    actor: Actor
    to_group: str | None = None
    to_user: str | None = None
    reason: str = ""


class CommentInput(UpdateInput):
    """Add a comment to the ticket."""

    actor: Actor
    body: str
    internal: bool = False


class CancelInput(UpdateInput):
    """Cancel the ticket."""

    actor: Actor
    reason: str


class ReopenInput(UpdateInput):
    """Reopen a resolved ticket; by default its final stages run again."""

    actor: Actor
    reason: str
    stages: list[str] | None = None


class ConfirmInput(UpdateInput):
    """The requester confirms the resolution."""

    actor: Actor
    comment: str = ""


class SetPriorityInput(UpdateInput):
    """Change the ticket's priority; its SLA clocks get the new priority's targets."""

    actor: Actor
    priority: str
    reason: str = ""


class ExpediteDecisionInput(UpdateInput):
    """Confirm or decline an expedite the sentiment model proposed."""

    actor: Actor
    proposal: str
    decision: Decision
    reason: str = ""


class PauseInput(UpdateInput):
    """Put the ticket on hold, waiting for someone outside (`customer`, `supplier`, ...)."""

    actor: Actor
    reason: str = Field(pattern=WAITING_PATTERN)
    note: str = ""


class ResumeInput(UpdateInput):
    """End the ticket's wait."""

    actor: Actor
    note: str = ""


class ExternalEventInput(BaseModel):
    """A signal from an outside system."""

    name: str
    source: str
    payload: dict[str, Any] = Field(default_factory=dict)
    # Derived from the sender's Idempotency-Key: a retry with the same id is recorded once.
    signal_id: str = ""
    request_fingerprint: str = ""


class TransitionResult(BaseModel):
    """What an Update changed: the ticket's status after it and the task it touched."""

    key: str
    status: TicketStatus
    seq: int
    task: Task | None = None
    request_fingerprint: str = ""


class ProjectionInput(BaseModel):
    """One transition to write into SQL: the ticket as it stands after it, and the event."""

    ticket: TicketSnapshot
    events: list[TicketEvent]
    clocks: list[SlaClock] = Field(default_factory=list)
    participants: list[Participant] | None = Field(
        default=None,
        description="Participants to record: those earlier projections of the run did not; "
        "None records every participant the events show.",
    )
    snapshots: dict[int, Snapshot] = Field(
        default_factory=dict,
        description="Sealed device snapshots to store with the ticket, by the seq of the "
        "`device_snapshot_taken` event that records each.",
    )
    notifications: list[NotifyInput] = Field(
        default_factory=list,
        description="Notifications the events cause, recorded in the same transaction "
        "(each once per ticket, event and recipient).",
    )
    recurrence_watch: RecurrenceWatchInput | None = Field(
        default=None,
        description="The close's recurrence watch, whose start is recorded in the same "
        "transaction (once per ticket).",
    )
    recurs: RecurrenceRef | None = Field(
        default=None,
        description="The closed ticket this new one recurs: its `recurred` is recorded in the "
        "same transaction if this is the first recurrence within its window.",
    )


class ProjectionResult(BaseModel):
    """How many of the events were new to the store (0 on a retried or replayed call)."""

    inserted: int


class ChildTicketInput(BaseModel):
    """A subprocess stage asks for its child ticket's key and pinned definition."""

    parent_key: str
    stage: str
    round: int
    definition: str = Field(description="`key@version`, or `key` for the latest version.")
    intake: dict[str, Any] = Field(default_factory=dict)


class ChildTicket(BaseModel):
    """The child's reserved key and the definition snapshot it runs."""

    key: str
    definition: ProcessDefinition
