"""Turn tickets into one sparse matrix: word and character n-grams, categoricals, device numbers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction import DictVectorizer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.preprocessing import FunctionTransformer

from domain.triage import CATEGORICAL_FIELDS, MAX_TEXT_CHARS, TriageTicket
from triage.candidates import SMALL_TRAINING_SET


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


TEXT_PARTS = ("word", "char")


def _text_part(part: str, min_df: int) -> Pipeline:
    """TF-IDF over the ticket's text: word 1-2-grams, or `char_wb` 2-5-grams."""
    if part == "word":
        vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=min_df)
    else:
        vectorizer = TfidfVectorizer(
            analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=min_df
        )
    return Pipeline([("text", FunctionTransformer(ticket_text)), ("tfidf", vectorizer)])


def build_features(*, min_df: int = 2, text: Sequence[str] = TEXT_PARTS) -> FeatureUnion:
    """The feature half of the triage pipeline (fitted once, shared by every target).

    `text` names the text parts, word n-grams first; categoricals and device numbers are
    always there.
    """
    return FeatureUnion(
        [
            *((part, _text_part(part, min_df)) for part in TEXT_PARTS if part in text),
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


def min_df_for(size: int) -> int:
    """Below SMALL_TRAINING_SET tickets the vocabulary keeps n-grams seen once, or tiny sets
    have none."""
    return 2 if size >= SMALL_TRAINING_SET else 1


@dataclass
class Featurized:
    """A fitted feature union, its column names and the matrix of the tickets it was fitted on."""

    features: FeatureUnion
    names: list[str]
    x: sparse.csr_matrix

    @classmethod
    def fit(
        cls, tickets: Sequence[TriageTicket], *, text: Sequence[str] = TEXT_PARTS
    ) -> Featurized:
        """Fit the union on these tickets (the vocabularies read text only, never labels)."""
        features = build_features(min_df=min_df_for(len(tickets)), text=text)
        x = sparse.csr_matrix(features.fit_transform(list(tickets)))
        return cls(features=features, names=feature_names(features), x=x)

    def restrict(self, text: Sequence[str]) -> Featurized:
        """The same fitted parts without the text parts not named in `text`."""
        dropped = tuple(f"{part}:" for part in TEXT_PARTS if part not in text)
        keep = [i for i, name in enumerate(self.names) if not name.startswith(dropped)]
        features = FeatureUnion(
            [
                (name, part)
                for name, part in self.features.transformer_list
                if name not in TEXT_PARTS or name in text
            ]
        )
        return Featurized(
            features=features,
            names=[self.names[i] for i in keep],
            x=sparse.csr_matrix(self.x[:, keep]),
        )
