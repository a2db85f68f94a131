"""AI triage as data: the per-definition settings and the triage activity's input and output.

Stdlib and pydantic only: the TicketWorkflow imports this inside the sandbox.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from domain.messages import UpdateInput
from domain.ticket import Actor
from domain.triage_settings import DuplicateSettings, TriageSettings

__all__ = ["DuplicateSettings", "TriageSettings"]

TRIAGE_ACTIVITY = "triage_ticket"
TRAIN_ACTIVITY = "train_triage_model"
RETRAIN_WORKFLOW = "TriageRetrainWorkflow"
DUPLICATE_SIGNAL = "duplicate_report"

# Categorical fields the model reads from the intake (the requester's role and department
# come from the requester); anything else in the intake is ignored.
CATEGORICAL_FIELDS = ("error_code", "device_model", "reporter_role", "department", "channel")
# Text beyond this is cut before it reaches the model: a pasted log must not stall a worker.
MAX_TEXT_CHARS = 8000
# Training chooses its recipe by this many stratified folds, searching at most this long; the
# training activity's 30-minute timeout has to hold the search and the refit after it.
DEFAULT_FOLDS = 3
DEFAULT_SEARCH_SECONDS = 900.0


class TriageTicket(BaseModel):
    """What the model sees of a ticket: its text, categorical fields and device numbers."""

    key: str = ""
    title: str = ""
    description: str = ""
    fields: dict[str, str] = Field(default_factory=dict)
    numbers: dict[str, float] = Field(default_factory=dict)


class Suggestion(BaseModel):
    """One candidate label with its calibrated probability."""

    label: str
    probability: float


class FeatureWeight(BaseModel):
    """A feature and how much it pushed the prediction (coefficient times value)."""

    feature: str
    weight: float


class TriageResult(BaseModel):
    """The triage activity's answer; `model_version` is None when no model could be used."""

    model_version: int | None = None
    error: str = ""
    team: str | None = None
    confidence: float = 0.0
    category: str | None = None
    category_confidence: float = 0.0
    priority: str | None = None
    alternatives: list[Suggestion] = Field(default_factory=list)
    top_features: list[FeatureWeight] = Field(default_factory=list)
    # The share of the model's training tickets whose text carried less team-specific
    # evidence than this one (0 to 1); None from models that did not measure it.
    evidence: float | None = None


class DispatchInput(UpdateInput):
    """A dispatcher's decision on a ticket in manual triage (or a correction of the model)."""

    actor: Actor
    team: str = Field(min_length=1, max_length=100)
    category: str | None = None
    priority: str | None = None
    reason: str = ""


class DuplicateReportInput(BaseModel):
    """A new report that was linked to this open ticket instead of starting another.

    Or, with `related_key`, a link between two tickets for their handlers: the reporter could
    not see this one, so theirs was filed as a ticket of its own.
    """

    requester: str
    # Reports from before `excerpt`: title or summary, and every text field joined.
    title: str = ""
    description: str = ""
    similarity: float = 0.0
    # The filing request's token (see ticket filing): a retried request reports once.
    report_id: str = Field(default="", max_length=64)
    # The report's text keyed by the intake field it came from (title or summary, description).
    excerpt: dict[str, str] = Field(default_factory=dict)
    related_key: str = Field(default="", max_length=40)
    relation: Literal["", "repeated_by", "repeats"] = ""


class RetrainInput(BaseModel):
    """Train on the labelled history; promote only if better on the same folds."""

    min_labels: int = Field(default=20, ge=2)
    folds: int = Field(default=DEFAULT_FOLDS, ge=2, le=10)
    budget_seconds: float = Field(default=DEFAULT_SEARCH_SECONDS, gt=0, le=1500)


class RetrainResult(BaseModel):
    """What a retraining did: the candidate's version and scores, and whether it went live."""

    trained: bool = False
    promoted: bool = False
    version: int | None = None
    accuracy: float | None = None
    current_accuracy: float | None = None
    labels: int = 0
    detail: str = ""
    candidate: str | None = Field(default=None, description="The recipe that won the search.")
