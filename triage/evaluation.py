"""Scores of a model on labelled tickets: accuracy, macro-F1, per class, confusion matrix."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.metrics import accuracy_score, classification_report, confusion_matrix, f1_score

TOP_CONFUSIONS = 10


def score(truth: Sequence[str], predicted: Sequence[str]) -> dict[str, Any]:
    """Accuracy, macro-F1, per-class precision/recall/F1/support, the confusion matrix and its
    costliest pairs."""
    labels = sorted(set(truth) | set(predicted))
    matrix = confusion_matrix(truth, predicted, labels=labels)
    report = classification_report(
        truth, predicted, labels=labels, output_dict=True, zero_division=0
    )
    return {
        "accuracy": float(accuracy_score(truth, predicted)),
        "macro_f1": float(f1_score(truth, predicted, labels=labels, average="macro")),
        "per_class": {
            label: {
                "precision": round(report[label]["precision"], 4),
                "recall": round(report[label]["recall"], 4),
                "f1": round(report[label]["f1-score"], 4),
                "support": int(report[label]["support"]),
            }
            for label in labels
        },
        "labels": labels,
        "confusion": matrix.tolist(),
        "confusion_pairs": costliest_confusions(labels, matrix),
    }


def costliest_confusions(
    labels: Sequence[str], matrix: np.ndarray, top: int = TOP_CONFUSIONS
) -> list[dict[str, Any]]:
    """The (truth, predicted) pairs with the most mistakes, with their share of all mistakes."""
    errors = matrix.copy()
    np.fill_diagonal(errors, 0)
    total = int(errors.sum())
    order = np.argsort(-errors, axis=None, kind="stable")[:top]
    pairs = []
    for flat in order:
        i, j = np.unravel_index(flat, errors.shape)
        if errors[i, j] == 0:
            break
        pairs.append(
            {
                "truth": labels[i],
                "predicted": labels[j],
                "count": int(errors[i, j]),
                "share_of_errors": round(int(errors[i, j]) / total, 4),
            }
        )
    return pairs


def format_report(scores: dict[str, Any]) -> str:
    """A plain-text report for the CLI."""
    lines = [
        f"accuracy  {scores['accuracy']:.4f}",
        f"macro-F1  {scores['macro_f1']:.4f}",
        "",
        f"{'class':<28}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>9}",
    ]
    for label, m in scores["per_class"].items():
        lines.append(
            f"{label[:27]:<28}{m['precision']:>10.3f}{m['recall']:>10.3f}{m['f1']:>10.3f}"
            f"{m['support']:>9}"
        )
    lines += ["", "costliest confusions (truth -> predicted: tickets, share of all errors)"]
    for pair in scores["confusion_pairs"]:
        lines.append(
            f"  {pair['truth'][:27]} -> {pair['predicted'][:27]}: {pair['count']}"
            f" ({pair['share_of_errors']:.1%})"
        )
    if not scores["confusion_pairs"]:
        lines.append("  none")
    return "\n".join(lines)
