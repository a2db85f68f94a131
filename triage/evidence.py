"""How much team-specific evidence a ticket's text carries, next to the model's probability.

A calibrated probability says how the model would split a ticket between teams, not whether
the ticket says anything: "hello, something is odd, please call me" can lean hard on one
word ("call"). Each text n-gram gets a specificity from the training tickets: how unevenly
it falls across the teams once their sizes are divided out, shrunk toward zero for n-grams
seen on few tickets (so one-off words say nothing). A ticket's raw evidence is the sum of
the specificities of its word n-grams, and its evidence the share of training tickets that
carried less: 0.01 means only one ticket in a hundred the model learnt from was as thin.
A ticket with no word the model knows (unsegmented Chinese, say) is measured the same way
on its character n-grams instead.
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


def _specificity(present: sparse.csr_matrix, labels: Sequence[str]) -> np.ndarray:
    """Per column, 1 - the normalised entropy of its size-corrected team distribution."""
    classes, y = np.unique(np.asarray(labels), return_inverse=True)
    onehot = sparse.csr_matrix(
        (np.ones(len(y)), (y, np.arange(len(y)))), shape=(len(classes), len(y))
    )
    counts = np.asarray((onehot @ present).todense())  # teams x columns: tickets with it
    prior = np.bincount(y, minlength=len(classes)) / len(y)
    # Divided by the team's share, so a big team's everyday words are not "specific".
    lift = (counts + PRIOR_TICKETS * prior[:, None]) / prior[:, None]
    lift /= lift.sum(axis=0, keepdims=True)
    entropy = -(lift * np.log(lift)).sum(axis=0)
    return np.asarray(np.clip(1.0 - entropy / np.log(len(classes)), 0.0, 1.0))


def _present(x: sparse.csr_matrix) -> sparse.csr_matrix:
    return sparse.csr_matrix((sparse.csr_matrix(x) > 0).astype(np.float64))


@dataclass
class TextEvidence:
    """Word and character specificities per column, and the training tickets' quantiles."""

    word: np.ndarray  # specificity of each word column, 0 elsewhere
    char: np.ndarray  # specificity of each character column, 0 elsewhere
    word_quantiles: np.ndarray
    char_quantiles: np.ndarray

    @classmethod
    def fit(cls, x: sparse.csr_matrix, names: Sequence[str], labels: Sequence[str]) -> TextEvidence:
        """Specificities from which teams each n-gram occurs in, and where tickets fall.

        Needs at least two teams (the model's team head does too).
        """
        present = _present(x)
        specificity = _specificity(present, labels)
        word = np.where([n.startswith("word:") for n in names], specificity, 0.0)
        char = np.where([n.startswith("char:") for n in names], specificity, 0.0)
        steps = np.linspace(0, 1, QUANTILES)
        return cls(
            word=word,
            char=char,
            word_quantiles=np.quantile(present @ word, steps),
            char_quantiles=np.quantile(present @ char, steps),
        )

    def score(self, x: sparse.csr_matrix) -> np.ndarray:
        """Per row, the share of training tickets whose raw evidence was lower (0 to 1)."""
        present = _present(x)
        by_word = np.searchsorted(self.word_quantiles, present @ self.word, side="left")
        by_char = np.searchsorted(self.char_quantiles, present @ self.char, side="left")
        knows_a_word = np.asarray(present @ (self.word > 0).astype(np.float64)).ravel() > 0
        return np.asarray(np.where(knows_a_word, by_word, by_char) / QUANTILES)
