"""How much team-specific evidence a ticket's text carries, next to the model's probability.

A calibrated probability says how the model would split a ticket between teams, not whether
the ticket says anything: "hello, something is odd, please call me" can lean hard on one
word ("call"). Each text n-gram gets a specificity from the training tickets: how unevenly
it falls across the teams once their sizes are divided out, shrunk toward zero for n-grams
seen on few tickets (so one-off words say nothing). A ticket's raw evidence is the sum of
the specificities of the n-grams it contains, and its evidence is the share of training
tickets that carried less: 0.01 means only one ticket in a hundred it learnt from was as thin.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse

# Pseudo-tickets spread over the teams by their sizes: an n-gram needs several tickets
# before its skew counts.
PRIOR_TICKETS = 10.0
QUANTILES = 1001
TEXT_PREFIXES = ("word:", "char:")


@dataclass
class TextEvidence:
    """Per-column specificity of the text n-grams and the training tickets' evidence quantiles."""

    specificity: np.ndarray  # one per feature column; 0 for non-text columns
    quantiles: np.ndarray  # raw evidence of the training tickets at QUANTILES even steps

    @classmethod
    def fit(cls, x: sparse.csr_matrix, names: Sequence[str], labels: Sequence[str]) -> TextEvidence:
        """Specificities from which teams each n-gram occurs in, and where tickets fall.

        Needs at least two teams (the model's team head does too).
        """
        present = sparse.csr_matrix((sparse.csr_matrix(x) > 0).astype(np.float64))
        text = np.array([name.startswith(TEXT_PREFIXES) for name in names])
        classes, y = np.unique(np.asarray(labels), return_inverse=True)
        onehot = sparse.csr_matrix(
            (np.ones(len(y)), (y, np.arange(len(y)))), shape=(len(classes), len(y))
        )
        counts = np.asarray((onehot @ present).todense())  # teams x columns: tickets with it
        prior = np.bincount(y, minlength=len(classes)) / len(y)
        posterior = counts + PRIOR_TICKETS * prior[:, None]
        # Divided by the team's share, so a big team's everyday words are not "specific".
        lift = posterior / prior[:, None]
        lift /= lift.sum(axis=0, keepdims=True)
        entropy = -(lift * np.log(lift)).sum(axis=0)
        specificity = 1.0 - entropy / np.log(len(classes))
        specificity = np.where(text, np.clip(specificity, 0.0, 1.0), 0.0)
        raw = present @ specificity
        return cls(
            specificity=specificity,
            quantiles=np.quantile(raw, np.linspace(0, 1, QUANTILES)),
        )

    def raw(self, x: sparse.csr_matrix) -> np.ndarray:
        """The summed specificity of each row's n-grams."""
        present = sparse.csr_matrix((sparse.csr_matrix(x) > 0).astype(np.float64))
        return np.asarray(present @ self.specificity).ravel()

    def score(self, x: sparse.csr_matrix) -> np.ndarray:
        """Per row, the share of training tickets whose raw evidence was lower (0 to 1)."""
        below = np.searchsorted(self.quantiles, self.raw(x), side="left")
        return np.asarray(below / len(self.quantiles))
