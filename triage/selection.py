"""Choose a recipe by stratified cross-validation on the labelled tickets, within a time budget."""

from __future__ import annotations

import time
import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.model_selection import StratifiedKFold

from triage.candidates import CANDIDATES, SMALL_TRAINING_SET, Candidate
from triage.evaluation import score
from triage.features import Featurized

# (steps done, steps in all, what is running): the CLI draws a progress bar from it.
Progress = Callable[[int, int, str], None]


def no_progress(done: int, total: int, label: str) -> None:
    """A progress callback that reports nothing."""


@dataclass
class CandidateScore:
    """One candidate's cross-validated team scores, or how far it got before the budget ran out."""

    candidate: Candidate
    predicted: list[str | None]
    fold_seconds: list[float] = field(default_factory=list)
    scores: dict[str, Any] | None = None

    @property
    def complete(self) -> bool:
        """Whether every fold was scored."""
        return self.scores is not None

    def summary(self) -> dict[str, Any]:
        """What the registry records about this candidate."""
        scores = self.scores or {}
        return {
            "name": self.candidate.name,
            "summary": self.candidate.summary,
            "status": "scored" if self.complete else "over budget",
            "accuracy": round(scores["accuracy"], 4) if scores else None,
            "macro_f1": round(scores["macro_f1"], 4) if scores else None,
            "folds_done": len(self.fold_seconds),
            "fold_seconds": round(sum(self.fold_seconds), 2),
        }


@dataclass
class Selection:
    """The candidates' scores, the winner, the folds they shared and the features fitted once."""

    scores: list[CandidateScore]
    winner: CandidateScore
    folds: list[np.ndarray]
    featurized: Featurized
    seconds: float


def folds_for(teams: Sequence[str], folds: int, seed: int = 0) -> list[np.ndarray]:
    """The test indices of each stratified fold (fewer folds when there are few tickets)."""
    n_splits = max(2, min(folds, len(teams)))
    splitter = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    with warnings.catch_warnings():
        # A team with fewer tickets than folds is missing from some folds; that is allowed.
        warnings.simplefilter("ignore", UserWarning)
        return [test for _, test in splitter.split(np.zeros(len(teams)), teams)]


def _fold_predictions(
    candidate: Candidate,
    featurized: Featurized,
    teams: np.ndarray,
    test: np.ndarray,
    calibrated: bool,
) -> list[str]:
    """Fit the candidate's head on every other fold and predict this one."""
    train = np.setdiff1d(np.arange(len(teams)), test)
    if len(set(teams[train])) < 2:  # nothing to learn but one team: it is the only answer
        return [str(teams[train][0])] * len(test)
    x = featurized.x
    word_columns = sum(name.startswith("word:") for name in featurized.names)
    estimator = candidate.estimator(word_columns=word_columns, calibrated=calibrated)
    # The decision function, not the calibrated probabilities: calibration is a per-class
    # monotone rescaling fitted afterwards and costs three more fits per fold.
    estimator.fit(x[train], teams[train])
    return [str(v) for v in estimator.predict(x[test])]


def _best(scored: Sequence[CandidateScore]) -> CandidateScore:
    """Highest accuracy, then highest macro-F1; the cheaper one on a tie."""
    return max(
        scored,
        key=lambda s: (s.scores["accuracy"], s.scores["macro_f1"]) if s.scores else (-1.0, -1.0),
    )


def select(
    featurized: Featurized,
    teams: Sequence[str],
    *,
    folds: int,
    budget_seconds: float,
    candidates: Sequence[Candidate] = CANDIDATES,
    calibrate_from: int = SMALL_TRAINING_SET,
    progress: Progress = no_progress,
    started: float | None = None,
) -> Selection:
    """Score each candidate on the same stratified folds, cheapest first, within the budget.

    The first fold of every candidate must start within its share of the budget (budget /
    folds); after it, the fold times say which candidates the remaining folds can afford, and
    the dearest are dropped. The cheapest candidate always completes, so there is a winner.
    """
    begun = time.perf_counter() if started is None else started
    labels = np.asarray(teams)
    splits = folds_for(teams, folds)
    calibrated = len(labels) >= calibrate_from and min(Counter(teams).values()) >= 2
    parts = {c.text: featurized.restrict(c.text) for c in candidates}
    runs = [CandidateScore(c, [None] * len(labels)) for c in candidates]
    active = list(runs)
    total = len(splits) * len(active)
    done = 0
    for k, test in enumerate(splits):
        if k == 1:
            active, dropped = _affordable(active, len(splits) - 1, budget_seconds - _since(begun))
            total -= dropped * (len(splits) - 1)
        for run in list(active):
            if k == 0 and run is not active[0] and _since(begun) >= budget_seconds / len(splits):
                active.remove(run)
                total -= len(splits)
                continue
            progress(done, total, f"fold {k + 1}/{len(splits)}: {run.candidate.name}")
            fold_started = time.perf_counter()
            predicted = _fold_predictions(
                run.candidate, parts[run.candidate.text], labels, test, calibrated
            )
            run.fold_seconds.append(time.perf_counter() - fold_started)
            for i, label in zip(test, predicted, strict=True):
                run.predicted[i] = label
            done += 1
    progress(done, total, "cross-validation done")
    for run in active:
        run.scores = score(list(teams), [str(p) for p in run.predicted])
    return Selection(
        scores=runs,
        winner=_best([r for r in runs if r.complete]),
        folds=splits,
        featurized=featurized,
        seconds=_since(begun),
    )


def _since(started: float) -> float:
    return time.perf_counter() - started


def _affordable(
    active: list[CandidateScore], folds_left: int, seconds_left: float
) -> tuple[list[CandidateScore], int]:
    """The cheapest-first prefix whose remaining folds fit the time left (at least one)."""
    kept: list[CandidateScore] = []
    spent = 0.0
    for run in active:
        cost = run.fold_seconds[0] * folds_left
        if kept and spent + cost > seconds_left:
            continue
        kept.append(run)
        spent += cost
    return kept, len(active) - len(kept)
