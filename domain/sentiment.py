"""Sentiment of a customer's messages, as data: labels, where messages come from, retention.

A message is scored only while the customer consents to `sentiment_analysis`; its score is
kept with its text, and both are purged `RETENTION` after the message was taken. An angry or
anxious score on an open ticket proposes an expedite that a person confirms or declines.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, Field

from domain.sla import Priority

Label = Literal["positive", "neutral", "negative", "angry", "anxious"]
# Positive, neutral and negative say how the customer feels about the service; angry and
# anxious are the states a service desk acts on (an angry customer escalates, an anxious one
# is waiting on something that frightens them): both propose an expedite.
LABELS: tuple[Label, ...] = ("positive", "neutral", "negative", "angry", "anxious")
EXPEDITE_LABELS: frozenset[str] = frozenset({"angry", "anxious"})
Language = Literal["en", "zh"]
LANGUAGES: tuple[Language, ...] = ("en", "zh")
# Where a customer's message came from: a ticket's intake description, a comment or reply on
# the ticket, or the comment of a feedback form.
Source = Literal["intake", "comment", "reply", "feedback"]
SOURCES: tuple[Source, ...] = ("intake", "comment", "reply", "feedback")
PurgeReason = Literal["retention", "revoked", "no_consent"]

RETENTION = timedelta(days=30)
# Texts beyond this are cut before they are stored or scored: the model reads the opening.
MAX_TEXT = 8000
DEFAULT_EXPEDITE_THRESHOLD = 0.5

SENTIMENT_WORKFLOW = "CustomerSentimentWorkflow"
MESSAGE_SIGNAL = "sentiment_message"
REVOKED_SIGNAL = "sentiment_revoked"
SCORE_ACTIVITY = "score_sentiment_message"
PURGE_ACTIVITY = "purge_sentiment"
EXPEDITE_SIGNAL = "sentiment_expedite"
EXPEDITE_WITHDRAW_SIGNAL = "sentiment_withdraw"
EXPEDITE_PATCH = "sentiment-expedite"
# The actor of the proposal on the ticket's timeline: the model, never a person.
SENTIMENT_ACTOR = "sentiment"


def sentiment_workflow_id(customer_id: str) -> str:
    """The id of the one sentiment workflow of a customer."""
    return f"sentiment-{customer_id}"


def purge_due(taken_at: datetime) -> datetime:
    """When a message taken at `taken_at` and its score are purged."""
    return taken_at + RETENTION


def proposes_expedite(label: str, confidence: float, threshold: float) -> bool:
    """Whether a score asks a person to expedite the ticket: angry or anxious, sure enough."""
    return label in EXPEDITE_LABELS and confidence >= threshold


class Scored(BaseModel):
    """What the model says of one text: the likeliest label, its probability, and all."""

    label: Label
    confidence: float
    probabilities: dict[str, float]


class SentimentMessage(BaseModel):
    """A stored message of a customer, handed to their sentiment workflow by its id only."""

    record_id: int
    taken_at: datetime


class RevokedInput(BaseModel):
    """Consent to sentiment analysis was revoked at `at`."""

    at: datetime


class PendingPurge(BaseModel):
    """A stored record and when it is purged."""

    record_id: int
    due_at: datetime


class CustomerSentimentInput(BaseModel):
    """A customer's sentiment workflow; `pending` carries purges over continue-as-new."""

    customer_id: str
    supervisor_group: str = "care-supervisors"
    expedite_threshold: float = DEFAULT_EXPEDITE_THRESHOLD
    pending: list[PendingPurge] = Field(default_factory=list)
    queued: list[SentimentMessage] = Field(default_factory=list)
    proposed_on: list[str] = Field(
        default_factory=list, description="Tickets it proposed an expedite on (to withdraw)."
    )


class CustomerSentimentResult(BaseModel):
    """How a customer's sentiment workflow ended: how many it scored and purged."""

    scored: int = 0
    purged: int = 0
    revoked: bool = False


class ScoreInput(BaseModel):
    """Score one stored message, if consent is in force now."""

    customer_id: str
    record_id: int
    expedite_threshold: float = DEFAULT_EXPEDITE_THRESHOLD


class ScoreResult(BaseModel):
    """Whether the message was scored, and whether its score proposes an expedite.

    No label or probability travels: Temporal's histories keep no score, and the ticket's
    timeline says only that a message proposed it (the score is in the purged record).
    """

    scored: bool
    record_id: int
    ticket_key: str | None = None
    expedite: bool = False


class PurgeInput(BaseModel):
    """Purge these records of a customer (none named: every one of theirs)."""

    customer_id: str
    at: datetime
    record_ids: list[int] = Field(default_factory=list)
    everything: bool = False
    reason: PurgeReason = "retention"


class PurgeResult(BaseModel):
    """What a purge deleted: how many records, never their content."""

    purge_id: int
    deleted: int


ProposalStatus = Literal["proposed", "confirmed", "declined", "withdrawn"]
Decision = Literal["confirm", "decline"]


class ExpediteProposal(BaseModel):
    """An expedite the model proposed on a ticket: a higher priority and a supervisor's task.

    Nothing changes until a person confirms it.
    """

    id: str
    record_id: int
    supervisor_group: str
    priority_from: Priority
    priority_to: Priority
    status: ProposalStatus = "proposed"
    proposed_at: datetime
    decided_at: datetime | None = None
    decided_by: str | None = None
    reason: str = ""
    task: str | None = Field(default=None, description="The supervisor's follow-up task id.")


class ExpediteSignal(BaseModel):
    """A customer's sentiment workflow proposes an expedite of one of their tickets."""

    record_id: int
    supervisor_group: str
