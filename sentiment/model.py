"""The sentiment model: TF-IDF character n-grams and a calibrated logistic regression.

Character n-grams inside word boundaries (`char_wb`) read English and Chinese alike with no
segmenter: a Chinese sentence is one "word" whose n-grams are its characters and their runs.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from domain.sentiment import MAX_TEXT, Label, Scored

NGRAMS = (1, 4)
C = 10.0
# Sigmoid calibration on this many folds (fewer when a label has fewer examples).
FOLDS = 5


def _clip(text: str) -> str:
    return text[:MAX_TEXT]


@dataclass
class SentimentModel:
    """A fitted vectorizer and classifier; pickled whole into an artifact file."""

    vectorizer: TfidfVectorizer
    classifier: CalibratedClassifierCV | LogisticRegression
    labels: list[str]

    @classmethod
    def fit(cls, texts: Sequence[str], labels: Sequence[str]) -> SentimentModel:
        """Fit on labelled texts; calibrated when every label has two examples or more."""
        if len(set(labels)) < 2:
            raise ValueError("training needs at least two distinct labels")
        vectorizer = TfidfVectorizer(
            analyzer="char_wb", ngram_range=NGRAMS, sublinear_tf=True, lowercase=True
        )
        x = vectorizer.fit_transform([_clip(t) for t in texts])
        smallest = min(Counter(labels).values())
        # newton-cg reaches the optimum lbfgs does in a seventh of the time on these features.
        base = LogisticRegression(C=C, max_iter=3000, solver="newton-cg")
        classifier: CalibratedClassifierCV | LogisticRegression = base
        if smallest >= 2:
            # One model fitted on everything, calibrated on out-of-fold scores.
            classifier = CalibratedClassifierCV(
                base, method="sigmoid", cv=min(FOLDS, smallest), ensemble=False
            )
        classifier.fit(x, list(labels))
        return cls(vectorizer, classifier, [str(c) for c in classifier.classes_])

    def predict_labels(self, texts: Sequence[str]) -> list[str]:
        """The likeliest label of each text, for evaluation in bulk."""
        x = self.vectorizer.transform([_clip(t) for t in texts])
        return [str(v) for v in self.classifier.predict(x)]

    def score(self, text: str) -> Scored:
        """The likeliest label of one text, its probability, and every label's."""
        x = self.vectorizer.transform([_clip(text)])
        probabilities = self.classifier.predict_proba(x)[0]
        ranked = {
            label: round(float(p), 4) for label, p in zip(self.labels, probabilities, strict=True)
        }
        best = max(ranked, key=ranked.__getitem__)
        return Scored(label=cast(Label, best), confidence=ranked[best], probabilities=ranked)
