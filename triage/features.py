"""Turn tickets into one sparse matrix: word and character n-grams, categoricals, device numbers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction import DictVectorizer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.preprocessing import FunctionTransformer

from domain.triage import CATEGORICAL_FIELDS, MAX_TEXT_CHARS, TriageTicket


def ticket_text(tickets: Sequence[TriageTicket]) -> list[str]:
    """Title and description as one lower-cased string, cut at MAX_TEXT_CHARS."""
    return [f"{t.title}\n{t.description}"[:MAX_TEXT_CHARS].lower() for t in tickets]


def ticket_categoricals(tickets: Sequence[TriageTicket]) -> list[dict[str, str]]:
    """The known categorical fields; a value never seen in training simply adds nothing."""
    return [
        {k: v.strip().lower() for k, v in t.fields.items() if k in CATEGORICAL_FIELDS and v}
        for t in tickets
    ]


def ticket_numbers(tickets: Sequence[TriageTicket]) -> list[dict[str, float]]:
    """Device evidence as name -> value, finite values only."""
    return [{k: v for k, v in t.numbers.items() if np.isfinite(v)} for t in tickets]


class NumericEvidence(BaseEstimator, TransformerMixin):  # type: ignore[misc]
    """Device numbers scaled to [-1, 1], medians for missing ones, plus a was-missing flag each."""

    def fit(self, rows: list[dict[str, float]], y: Any = None) -> NumericEvidence:
        """Learn which numbers exist, their medians and their largest magnitudes."""
        names = sorted({k for row in rows for k in row})
        self.names_ = names
        self.medians_ = {n: float(np.median([row[n] for row in rows if n in row])) for n in names}
        # Scaled like MaxAbsScaler would, which refuses the zero columns of a deviceless history.
        self.scales_ = {n: max(abs(row[n]) for row in rows if n in row) or 1.0 for n in names}
        return self

    def transform(self, rows: list[dict[str, float]]) -> sparse.csr_matrix:
        """One row per ticket: [value or median, missing flag] per known number."""
        out = np.zeros((len(rows), 2 * len(self.names_)))
        for i, row in enumerate(rows):
            for j, name in enumerate(self.names_):
                if name in row:
                    out[i, 2 * j] = row[name] / self.scales_[name]
                else:
                    out[i, 2 * j] = self.medians_[name] / self.scales_[name]
                    out[i, 2 * j + 1] = 1.0
        return sparse.csr_matrix(out)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Names matching transform's columns."""
        return np.array([f"{n}{suffix}" for n in self.names_ for suffix in ("", "_missing")])


def build_features(*, min_df: int = 2) -> FeatureUnion:
    """The feature half of the triage pipeline (fitted once, shared by every target)."""
    return FeatureUnion(
        [
            (
                "word",
                Pipeline(
                    [
                        ("text", FunctionTransformer(ticket_text)),
                        (
                            "tfidf",
                            TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=min_df),
                        ),
                    ]
                ),
            ),
            (
                "char",
                Pipeline(
                    [
                        ("text", FunctionTransformer(ticket_text)),
                        (
                            "tfidf",
                            TfidfVectorizer(
                                analyzer="char_wb",
                                ngram_range=(2, 5),
                                sublinear_tf=True,
                                min_df=min_df,
                            ),
                        ),
                    ]
                ),
            ),
            (
                "field",
                Pipeline(
                    [
                        ("pick", FunctionTransformer(ticket_categoricals)),
                        ("onehot", DictVectorizer()),
                    ]
                ),
            ),
            (
                "device",
                Pipeline(
                    [
                        ("pick", FunctionTransformer(ticket_numbers)),
                        ("impute", NumericEvidence()),
                    ]
                ),
            ),
        ]
    )


def feature_names(features: FeatureUnion) -> list[str]:
    """Readable names of the fitted union's columns, prefixed by their part."""
    names: list[str] = []
    for part, pipeline in features.transformer_list:
        last = pipeline.steps[-1][1]
        names.extend(f"{part}:{n}" for n in last.get_feature_names_out())
    return names
