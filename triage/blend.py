"""A linear classifier that sums a LinearSVC on every feature and an NB-SVM on the words."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.svm import LinearSVC


class SvcNbBlend(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """LinearSVC over all columns plus, per class, an SVM on the leading word columns scaled
    by their naive-Bayes log-count ratios (Wang & Manning's NB-SVM).

    Both parts are linear, so their sum is one linear model: `coef_` (classes x features)
    explains a prediction exactly, and predicting costs one sparse product.
    """

    def __init__(self, C: float = 0.3, nb_columns: int | None = None, alpha: float = 1.0):
        self.C = C
        self.nb_columns = nb_columns
        self.alpha = alpha

    def fit(self, x: Any, y: Any) -> SvcNbBlend:
        """Fit both parts and fold them into `coef_` and `intercept_`."""
        x = sparse.csr_matrix(x)
        y = np.asarray(y)
        self.classes_ = np.unique(y)
        svc = LinearSVC(C=self.C).fit(x, y)
        coef, intercept = svc.coef_, svc.intercept_
        if len(self.classes_) == 2:  # one row for two classes: the second one's score
            coef, intercept = (
                np.vstack([-coef[0], coef[0]]),
                np.array([-intercept[0], intercept[0]]),
            )
        coef, intercept = coef.copy(), intercept.copy()
        width = min(self.nb_columns or x.shape[1], x.shape[1])
        words = x[:, :width]
        present = (words > 0).astype(np.float64)
        for i, label in enumerate(self.classes_):
            mine = y == label
            p = self.alpha + np.asarray(present[mine].sum(axis=0)).ravel()
            q = self.alpha + np.asarray(present[~mine].sum(axis=0)).ravel()
            ratio = np.log((p / p.sum()) / (q / q.sum()))
            nb = LinearSVC(C=self.C).fit(words @ sparse.diags(ratio), mine.astype(int))
            coef[i, :width] += nb.coef_[0] * ratio
            intercept[i] += nb.intercept_[0]
        self.coef_ = coef
        self.intercept_ = intercept
        # Laid out for sparse @ dense: a transposed view would be copied on every predict.
        self.coef_columns_ = np.ascontiguousarray(coef.T)
        return self

    def _scores(self, x: Any) -> np.ndarray:
        scores: np.ndarray = np.asarray(sparse.csr_matrix(x) @ self.coef_columns_)
        scores += self.intercept_
        return scores

    def decision_function(self, x: Any) -> np.ndarray:
        """Per-class scores (one column, the second class's margin, for two classes)."""
        scores = self._scores(x)
        if len(self.classes_) == 2:
            return np.asarray(scores[:, 1] - scores[:, 0])
        return scores

    def predict(self, x: Any) -> np.ndarray:
        """The highest-scoring class."""
        labels: np.ndarray = self.classes_[self._scores(x).argmax(axis=1)]
        return labels
