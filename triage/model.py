"""The triage model: one feature pipeline, one (calibrated) linear classifier per target."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import sparse
from sklearn.calibration import CalibratedClassifierCV
from sklearn.pipeline import FeatureUnion

from domain.triage import FeatureWeight, Suggestion, TriageResult, TriageTicket
from triage.candidates import BLEND, SMALL_TRAINING_SET, Candidate
from triage.evidence import TextEvidence
from triage.features import Featurized

TARGETS = ("team", "category", "priority")
TOP_ALTERNATIVES = 3
TOP_FEATURES = 5


@dataclass
class Head:
    """A fitted classifier for one target and the linear weights that explain it."""

    classifier: Any
    classes: list[str]
    coef: np.ndarray  # one row per class: what each feature adds to that class's score


def _fit_head(
    x: sparse.csr_matrix,
    labels: list[str],
    candidate: Candidate,
    word_columns: int,
    calibrated: bool,
) -> Head:
    """The candidate's head, calibrated by cross-validation when the set is large enough."""
    smallest = min(Counter(labels).values())
    calibrate = calibrated and smallest >= 2 and candidate.head != "lr"
    estimator = candidate.estimator(word_columns=word_columns, calibrated=calibrate)
    if calibrate:
        classifier = CalibratedClassifierCV(
            estimator,
            method="sigmoid",
            cv=min(3, smallest),
            # One head fitted on every ticket, calibrated on out-of-fold scores: more accurate
            # than three fitted on two thirds each, and one product per prediction, not three.
            ensemble=False,
        )
        classifier.fit(x, labels)
        coef = np.mean([c.estimator.coef_ for c in classifier.calibrated_classifiers_], axis=0)
    else:
        classifier = estimator.fit(x, labels)
        coef = classifier.coef_
    if coef.shape[0] == 1:  # one row for two classes: the second one's score
        coef = np.vstack([-coef[0], coef[0]])
    classes = [str(c) for c in classifier.classes_]
    return Head(classifier=classifier, classes=classes, coef=coef)


@dataclass
class TriageModel:
    """A trained triage model; pickled whole into the registry's artifact file."""

    features: FeatureUnion
    names: list[str]
    heads: dict[str, Head] = field(default_factory=dict)
    candidate: str = BLEND.name
    # None in models saved before it was measured: their answers carry no evidence score.
    evidence: TextEvidence | None = None

    @classmethod
    def fit(
        cls,
        tickets: Sequence[TriageTicket],
        labels: Mapping[str, Sequence[str | None]],
        *,
        candidate: Candidate = BLEND,
        calibrate_from: int = SMALL_TRAINING_SET,
        featurized: Featurized | None = None,
    ) -> TriageModel:
        """Fit the features once (unless given, fitted on these tickets), then a head per target
        that has at least two classes.

        Below `calibrate_from` labels a head is a plain logistic regression.
        """
        fitted = (featurized or Featurized.fit(tickets)).restrict(candidate.text)
        model = cls(features=fitted.features, names=fitted.names, candidate=candidate.name)
        word_columns = sum(name.startswith("word:") for name in model.names)
        for target, values in labels.items():
            rows = [i for i, v in enumerate(values) if v]
            ys = [str(values[i]) for i in rows]
            if len(set(ys)) >= 2:
                model.heads[target] = _fit_head(
                    fitted.x[rows], ys, candidate, word_columns, len(ys) >= calibrate_from
                )
        if "team" not in model.heads:
            raise ValueError("training needs at least two distinct teams")
        rows = [i for i, v in enumerate(labels["team"]) if v]
        model.evidence = TextEvidence.fit(
            fitted.x[rows], model.names, [str(labels["team"][i]) for i in rows]
        )
        return model

    def transform(self, tickets: Sequence[TriageTicket]) -> sparse.csr_matrix:
        """The feature matrix of these tickets."""
        return sparse.csr_matrix(self.features.transform(list(tickets)))

    def predict_labels(self, tickets: Sequence[TriageTicket], target: str = "team") -> list[str]:
        """The most probable label per ticket, for evaluation in bulk."""
        head = self.heads[target]
        return [str(v) for v in head.classifier.predict(self.transform(tickets))]

    def predict(self, ticket: TriageTicket) -> TriageResult:
        """Team, category and priority with probabilities, alternatives and the reasons."""
        x = self.transform([ticket])
        team, confidence, alternatives = self._rank(x, "team")
        result = TriageResult(
            team=team,
            confidence=confidence,
            alternatives=alternatives,
            top_features=self._explain(x, "team", team),
            evidence=round(float(self.evidence.score(x)[0]), 4) if self.evidence else None,
        )
        if "category" in self.heads:
            result.category, result.category_confidence, _ = self._rank(x, "category")
        if "priority" in self.heads:
            result.priority, _, _ = self._rank(x, "priority")
        return result

    def _rank(self, x: sparse.csr_matrix, target: str) -> tuple[str, float, list[Suggestion]]:
        head = self.heads[target]
        probabilities = head.classifier.predict_proba(x)[0]
        order = np.argsort(-probabilities)[:TOP_ALTERNATIVES]
        ranked = [
            Suggestion(label=head.classes[i], probability=round(float(probabilities[i]), 4))
            for i in order
        ]
        return ranked[0].label, ranked[0].probability, ranked

    def _explain(self, x: sparse.csr_matrix, target: str, label: str) -> list[FeatureWeight]:
        """The features whose coefficient times value pushed hardest toward `label`."""
        head = self.heads[target]
        row = x.tocoo()
        weights = head.coef[head.classes.index(label)][row.col] * row.data
        order = np.argsort(-weights)[:TOP_FEATURES]
        return [
            FeatureWeight(feature=self.names[row.col[i]], weight=round(float(weights[i]), 4))
            for i in order
            if weights[i] > 0
        ]
