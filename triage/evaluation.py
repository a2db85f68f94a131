"""Scores of a model on labelled tickets: accuracy, macro-F1, per class, confusion matrix."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sklearn.metrics import accuracy_score, classification_report, confusion_matrix, f1_score


def score(truth: Sequence[str], predicted: Sequence[str]) -> dict[str, Any]:
    """Accuracy, macro-F1, per-class precision/recall/F1/support and the confusion matrix."""
    labels = sorted(set(truth) | set(predicted))
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
        "confusion": confusion_matrix(truth, predicted, labels=labels).tolist(),
    }


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
    lines += ["", "confusion matrix (rows: truth, columns: predicted)"]
    width = max(8, *(len(label[:12]) + 1 for label in scores["labels"]))
    lines.append(" " * width + "".join(f"{label[:12]:>{width}}" for label in scores["labels"]))
    for label, row in zip(scores["labels"], scores["confusion"], strict=True):
        lines.append(f"{label[:12]:<{width}}" + "".join(f"{v:>{width}}" for v in row))
    return "\n".join(lines)
