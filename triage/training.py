"""Train a candidate on a split of labelled tickets and score it beside the live model."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sklearn.model_selection import train_test_split

from domain.triage import TriageTicket
from triage.evaluation import score
from triage.model import TriageModel


@dataclass(frozen=True)
class Example:
    """One labelled ticket; category and priority may be unknown."""

    ticket: TriageTicket
    team: str
    category: str | None = None
    priority: str | None = None


@dataclass
class TrainingRun:
    """A trained candidate, its held-out scores, and the live model's on the same split."""

    model: TriageModel
    training_size: int
    scores: dict[str, Any]
    current_scores: dict[str, Any] | None
    seconds: float


def _labels(examples: Sequence[Example]) -> dict[str, list[str | None]]:
    return {
        "team": [e.team for e in examples],
        "category": [e.category for e in examples],
        "priority": [e.priority for e in examples],
    }


def split(
    examples: Sequence[Example], *, test_size: float, seed: int = 0
) -> tuple[list[Example], list[Example]]:
    """Stratified by team when every team has two examples, plain random otherwise."""
    teams = [e.team for e in examples]
    stratify = teams if min(Counter(teams).values()) >= 2 else None
    try:
        train, test = train_test_split(
            list(examples), test_size=test_size, stratify=stratify, random_state=seed
        )
    except ValueError:  # a test split smaller than the number of teams cannot be stratified
        train, test = train_test_split(list(examples), test_size=test_size, random_state=seed)
    return list(train), list(test)


def fit(examples: Sequence[Example]) -> TriageModel:
    """Fit a model on every example."""
    return TriageModel.fit([e.ticket for e in examples], _labels(examples))


def evaluate(model: TriageModel, examples: Sequence[Example]) -> dict[str, Any]:
    """Team scores of `model` on `examples`."""
    predicted = model.predict_labels([e.ticket for e in examples])
    return score([e.team for e in examples], predicted)


def train_candidate(
    examples: Sequence[Example], *, test_size: float, current: TriageModel | None
) -> TrainingRun:
    """Train on the split's training part; score candidate and live model on its test part."""
    train, test = split(examples, test_size=test_size)
    started = time.perf_counter()
    model = fit(train)
    seconds = time.perf_counter() - started
    return TrainingRun(
        model=model,
        training_size=len(train),
        scores=evaluate(model, test),
        current_scores=evaluate(current, test) if current is not None else None,
        seconds=seconds,
    )


def describe_features(model: TriageModel) -> dict[str, Any]:
    """What the registry records about a model's features."""
    parts = Counter(name.split(":", 1)[0] for name in model.names)
    return {"parts": dict(parts), "targets": sorted(model.heads), "count": len(model.names)}
