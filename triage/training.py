"""Train on labelled tickets: choose a recipe by cross-validation, refit it on all of them."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from domain.triage import DEFAULT_FOLDS, DEFAULT_SEARCH_SECONDS, TriageTicket
from triage.candidates import BLEND, CANDIDATES, SMALL_TRAINING_SET, Candidate
from triage.evaluation import score
from triage.features import Featurized
from triage.model import TriageModel
from triage.selection import Progress, no_progress, select

EVAL_BATCH = 1000


@dataclass(frozen=True)
class Example:
    """One labelled ticket; category and priority may be unknown."""

    ticket: TriageTicket
    team: str
    category: str | None = None
    priority: str | None = None


@dataclass
class TrainingRun:
    """The winner refitted on every example, the search behind it, and the live model's scores.

    `scores` are the winner's cross-validated scores; `current_scores` the live model's on
    the same folds (every example is in one test fold).
    """

    model: TriageModel
    training_size: int
    scores: dict[str, Any]
    current_scores: dict[str, Any] | None
    seconds: float
    selection: dict[str, Any]


def _labels(examples: Sequence[Example]) -> dict[str, list[str | None]]:
    return {
        "team": [e.team for e in examples],
        "category": [e.category for e in examples],
        "priority": [e.priority for e in examples],
    }


def fit(examples: Sequence[Example], candidate: Candidate = BLEND) -> TriageModel:
    """Fit one recipe (the shipped blend unless named) on every example."""
    return TriageModel.fit([e.ticket for e in examples], _labels(examples), candidate=candidate)


def evaluate(
    model: TriageModel, examples: Sequence[Example], progress: Progress = no_progress
) -> dict[str, Any]:
    """Team scores of `model` on `examples`, predicted in batches so progress can be shown."""
    predicted: list[str] = []
    for start in range(0, len(examples), EVAL_BATCH):
        progress(start, len(examples), "predicting")
        batch = examples[start : start + EVAL_BATCH]
        predicted += model.predict_labels([e.ticket for e in batch])
    progress(len(examples), len(examples), "predicted")
    return score([e.team for e in examples], predicted)


def train_selected(
    examples: Sequence[Example],
    *,
    folds: int = DEFAULT_FOLDS,
    budget_seconds: float = DEFAULT_SEARCH_SECONDS,
    current: TriageModel | None,
    candidates: Sequence[Candidate] = CANDIDATES,
    calibrate_from: int = SMALL_TRAINING_SET,
    progress: Progress = no_progress,
) -> TrainingRun:
    """Cross-validate the candidates, refit the best on every example, score the live model.

    The text vocabularies are fitted once on every example (they read no labels); each fold
    fits only the classifiers, and the refit reuses the same vocabularies.
    """
    started = time.perf_counter()
    tickets = [e.ticket for e in examples]
    teams = [e.team for e in examples]
    progress(0, 1, "fitting features")
    featurized = Featurized.fit(tickets)
    chosen = select(
        featurized,
        teams,
        folds=folds,
        budget_seconds=budget_seconds,
        candidates=candidates,
        calibrate_from=calibrate_from,
        progress=progress,
        started=started,
    )
    winner = chosen.winner
    if winner.scores is None:
        raise RuntimeError("the winning candidate has no scores")
    progress(0, 1, f"refitting {winner.candidate.name} on all {len(examples)} tickets")
    model = TriageModel.fit(
        tickets,
        _labels(examples),
        candidate=winner.candidate,
        calibrate_from=calibrate_from,
        featurized=featurized,
    )
    seconds = time.perf_counter() - started
    return TrainingRun(
        model=model,
        training_size=len(examples),
        scores=winner.scores,
        current_scores=evaluate(current, examples, progress) if current is not None else None,
        seconds=seconds,
        selection={
            "winner": winner.candidate.name,
            "folds": len(chosen.folds),
            "budget_seconds": budget_seconds,
            "search_seconds": round(chosen.seconds, 2),
            "candidates": [s.summary() for s in chosen.scores],
        },
    )


def describe_features(model: TriageModel) -> dict[str, Any]:
    """What the registry records about a model's features."""
    parts = Counter(name.split(":", 1)[0] for name in model.names)
    return {
        "parts": dict(parts),
        "targets": sorted(model.heads),
        "count": len(model.names),
        "candidate": model.candidate,
    }
