"""A definition's triage block (imported by domain.definitions, so it imports nothing of ours)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

# A ticket thinner than all but this share of the tickets the model learnt from goes to a
# person however sure the model is (measured on the IT corpus: see README, Triage).
DEFAULT_MIN_EVIDENCE = 0.01


class DuplicateSettings(BaseModel):
    """When a new ticket counts as a repeat of an open one from the same requester/asset/device."""

    model_config = ConfigDict(extra="forbid")

    threshold: float = Field(default=0.8, gt=0, le=1, description="Text cosine similarity.")
    window_hours: float = Field(default=72.0, gt=0, le=24 * 365)


class TriageSettings(BaseModel):
    """A definition's triage block: who dispatches, which stages get routed, how sure to be."""

    model_config = ConfigDict(extra="forbid")

    threshold: float = Field(default=0.7, ge=0, le=1, description="Auto-route at or above.")
    min_evidence: float = Field(
        default=DEFAULT_MIN_EVIDENCE,
        ge=0,
        le=1,
        description="Auto-route only a ticket whose text carries at least this much evidence: "
        "the share of the model's training tickets that carried less (0 turns the check off).",
    )
    dispatcher_group: str = Field(min_length=1, max_length=100)
    routed_stages: list[str] = Field(min_length=1, description="Stages whose group is the team.")
    teams: list[str] = Field(
        default_factory=list, description="Teams the model may route to; empty means any."
    )
    duplicates: DuplicateSettings | None = None
