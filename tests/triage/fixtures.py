"""The committed ticket sample (English and Chinese) every triage test trains on."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from triage.csv_import import read_examples
from triage.model import TriageModel
from triage.training import Example, fit

SAMPLE = Path(__file__).with_name("tickets.csv")


def sample_examples() -> list[Example]:
    """The 48 labelled tickets of tickets.csv."""
    return read_examples(
        SAMPLE,
        text=["title", "description"],
        label="team",
        category="category",
        priority="priority",
    )


@lru_cache
def sample_model() -> TriageModel:
    """A model fitted on the whole sample (shared: fitting is the slow part)."""
    return fit(sample_examples())
