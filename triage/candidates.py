"""The model recipes training chooses between: text features and a linear head for each."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from sklearn.linear_model import LogisticRegression
from sklearn.svm import LinearSVC

from triage.blend import SvcNbBlend

HeadKind = Literal["blend", "svm", "lr"]
# Heads fitted on fewer tickets than this are plain logistic regression: calibrating on folds
# of a few dozen tickets flattens every probability toward the prior.
SMALL_TRAINING_SET = 500
SMALL_SET_C = 10.0


@dataclass(frozen=True)
class Candidate:
    """One recipe: which text parts the features hold and which linear head reads them."""

    name: str
    text: tuple[str, ...]
    head: HeadKind
    C: float
    summary: str

    def estimator(self, *, word_columns: int, calibrated: bool) -> Any:
        """The unfitted linear classifier (before calibration) for this recipe.

        Uncalibrated (small training sets) every recipe is a logistic regression on its
        features, which gives usable probabilities without calibration folds.
        """
        if self.head == "lr" or not calibrated:
            return LogisticRegression(C=self.C if self.head == "lr" else SMALL_SET_C, max_iter=2000)
        if self.head == "svm":
            return LinearSVC(C=self.C)
        return SvcNbBlend(C=self.C, nb_columns=word_columns)


BLEND = Candidate(
    "blend",
    ("word", "char"),
    "blend",
    0.3,
    "word 1-2 + char_wb 2-5 TF-IDF, LinearSVC + NB-SVM blend, calibrated",
)
# Cheapest first, by the training time each took on the IT corpus.
CANDIDATES: tuple[Candidate, ...] = (
    Candidate("word-svm", ("word",), "svm", 0.5, "word 1-2 TF-IDF, LinearSVC, calibrated"),
    Candidate(
        "word-char-svm",
        ("word", "char"),
        "svm",
        0.3,
        "word + char_wb TF-IDF, LinearSVC, calibrated",
    ),
    BLEND,
    Candidate("word-lr", ("word",), "lr", 10.0, "word 1-2 TF-IDF, logistic regression C=10"),
    Candidate("char-lr", ("char",), "lr", 10.0, "char_wb 2-5 TF-IDF, logistic regression C=10"),
)


def candidate_named(name: str) -> Candidate:
    """The recipe called `name`."""
    for candidate in CANDIDATES:
        if candidate.name == name:
            return candidate
    raise KeyError(f"no triage candidate {name!r} (known: {[c.name for c in CANDIDATES]})")
