"""The field-type model: character n-grams of a phrase, a logistic regression over the lexicon.

Character n-grams (1 to 4, within word boundaries) read Chinese, which has no spaces, and
English alike, and see the whole phrase: "email address" shares more with "email" than with
"address". A second set of n-grams reads the head alone (the last English word before "of",
"for"...; the last four Chinese characters), since both languages name the thing last: "visit
date" is a date whatever the visit. Trained on the bundled lexicon the first time a process
needs it (under two seconds of CPU), deterministically, and kept for the life of the process:
nothing is downloaded or unpickled.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline, make_union
from threadpoolctl import threadpool_limits

from forms.field_lexicon import lexicon

# Regularisation picked on the held-apart sentences (bench/forms.py).
C = 10.0
HEAD_CHARACTERS = 4
_CJK = re.compile(r"[\u3400-\u9fff]")
_EN_TAIL = re.compile(
    r"\s+(?:of|for|on|in|at|to|from|by|with|about|after|before|when|where|that|which)\s+"
)
_WORD = re.compile(r"[\w'-]+")
_lock = threading.Lock()
_model: FieldModel | None = None


@dataclass(frozen=True)
class Guess:
    """The most probable kind of a phrase and its probability."""

    kind: str
    confidence: float


@dataclass(frozen=True)
class FieldModel:
    """A fitted pipeline from phrase to kind."""

    pipeline: Pipeline

    @classmethod
    def train(cls, phrases: list[str], kinds: list[str]) -> FieldModel:
        """Fit the n-gram features and the classifier on labelled phrases."""
        pipeline = make_pipeline(
            make_union(_ngrams(str.lower), _ngrams(head)),
            LogisticRegression(C=C, max_iter=3000),
        )
        # One thread: BLAS threads fighting the server's own (and each other) cost far more
        # than they save on a problem this small.
        with threadpool_limits(limits=1):
            pipeline.fit(phrases, kinds)
        return cls(pipeline=pipeline)

    def guess(self, phrases: list[str]) -> list[Guess]:
        """The most probable kind of each phrase, with its probability."""
        if not phrases:
            return []
        probabilities = self.pipeline.predict_proba(phrases)
        classes = self.pipeline.classes_
        return [
            Guess(kind=str(classes[row.argmax()]), confidence=round(float(row.max()), 4))
            for row in probabilities
        ]


def head(phrase: str) -> str:
    """The words that name the thing: "date of purchase" -> "date", "客户手机号" -> "户手机号"."""
    lowered = phrase.lower()
    if _CJK.search(lowered):
        return lowered[-HEAD_CHARACTERS:]
    words = _WORD.findall(_EN_TAIL.split(lowered, maxsplit=1)[0])
    return words[-1] if words else lowered


def _ngrams(preprocessor: Callable[[str], str]) -> TfidfVectorizer:
    return TfidfVectorizer(
        analyzer="char_wb",
        ngram_range=(1, 4),
        preprocessor=preprocessor,
        sublinear_tf=True,
        min_df=2,  # an n-gram of one phrase only is that phrase's noise
    )


def field_model() -> FieldModel:
    """The model trained on the bundled lexicon, trained once per process."""
    global _model
    with _lock:  # two first requests at once train it once
        if _model is None:
            rows = lexicon()
            _model = FieldModel.train([p for p, _, _ in rows], [k for _, _, k in rows])
        return _model
