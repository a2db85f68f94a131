"""Train a candidate on labelled sentences and score it per language beside the live model."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sentiment.corpus import Labelled, bundled_corpus, split
from sentiment.model import SentimentModel
from triage.evaluation import score


@dataclass
class TrainingRun:
    """A trained candidate, its held-apart scores, and the live model's on the same rows."""

    model: SentimentModel
    training_size: int
    scores: dict[str, Any]
    current_scores: dict[str, Any] | None
    seconds: float


def fit(examples: Sequence[Labelled]) -> SentimentModel:
    """Fit a model on every example."""
    return SentimentModel.fit([e.text for e in examples], [e.label for e in examples])


def evaluate(model: SentimentModel, examples: Sequence[Labelled]) -> dict[str, Any]:
    """Scores on all examples, and accuracy and macro-F1 per language (`by_language`)."""
    predicted = model.predict_labels([e.text for e in examples])
    scores = score([e.label for e in examples], predicted)
    by_language = {}
    for language in sorted({e.language for e in examples}):
        rows = [i for i, e in enumerate(examples) if e.language == language]
        part = score([examples[i].label for i in rows], [predicted[i] for i in rows])
        by_language[language] = {
            "accuracy": part["accuracy"],
            "macro_f1": part["macro_f1"],
            "support": len(rows),
        }
    scores["by_language"] = by_language
    return scores


def train_candidate(
    examples: Sequence[Labelled], *, test_size: float, current: SentimentModel | None
) -> TrainingRun:
    """Train on one part; score the candidate and the live model on the held-apart part."""
    train, test = split(list(examples), test_size=test_size)
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


def fit_bundled() -> SentimentModel:
    """The bundled model: fitted on the bundled corpus's rows that are not held apart."""
    return fit([e for e in bundled_corpus() if not e.held])
