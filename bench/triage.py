"""Triage model benchmark on the IT service tickets data set, against the README's reference.

Runs the data set's fixed split (stratified 80/20, random_state=0), trains the reference
(TF-IDF word 1-2-grams + LogisticRegression(C=10)) and Ticketflow's triage model in the same
run, and prints accuracy, macro-F1, training time, single-ticket predict latency and ratios.

    .venv/bin/python bench/triage.py [--data ../shared/datasets/it-service-tickets/tickets.csv.gz]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline

# This script's folder comes first on sys.path, and its name would hide the triage package.
del sys.path[0]

from domain.triage import TriageTicket  # noqa: E402
from triage.csv_import import read_examples  # noqa: E402
from triage.evaluation import score  # noqa: E402
from triage.training import fit  # noqa: E402

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared/datasets/it-service-tickets"
LATENCY_SAMPLES = 500


def _latency_ms(
    predict_one: Callable[[TriageTicket], object], tickets: list[TriageTicket]
) -> tuple[float, float]:
    """Median and 99th percentile of one-ticket predictions, in milliseconds."""
    times = []
    for ticket in tickets:
        started = time.perf_counter()
        predict_one(ticket)
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.99) - 1]


def main() -> int:
    """Run both models on the fixed split and print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA / "tickets.csv.gz")
    args = parser.parse_args()
    examples = read_examples(args.data, text=["Document"], label="Topic_group")
    labels = [e.team for e in examples]
    train, test = train_test_split(examples, test_size=0.2, stratify=labels, random_state=0)
    truth = [e.team for e in test]
    print(f"data: {args.data} ({len(train)} train / {len(test)} test)")

    reference = make_pipeline(
        TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2),
        LogisticRegression(C=10, max_iter=1000),
    )
    started = time.perf_counter()
    reference.fit([e.ticket.description for e in train], [e.team for e in train])
    ref_train = time.perf_counter() - started
    ref_scores = score(truth, list(reference.predict([e.ticket.description for e in test])))
    ref_p50, ref_p99 = _latency_ms(
        lambda t: reference.predict_proba([t.description]),
        [e.ticket for e in test[:LATENCY_SAMPLES]],
    )

    started = time.perf_counter()
    model = fit(train)
    ours_train = time.perf_counter() - started
    ours_scores = score(truth, model.predict_labels([e.ticket for e in test]))
    ours_p50, ours_p99 = _latency_ms(model.predict, [e.ticket for e in test[:LATENCY_SAMPLES]])

    rows = [
        ("reference: TF-IDF word 1-2 + LR(C=10)", ref_scores, ref_train, ref_p50, ref_p99),
        (
            "ticketflow: word+char union, calibrated SVC + NB-SVM blend",
            ours_scores,
            ours_train,
            ours_p50,
            ours_p99,
        ),
    ]
    print(f"{'model':<60}{'accuracy':>9}{'macro-F1':>9}{'train s':>9}{'p50 ms':>8}{'p99 ms':>8}")
    for name, s, train_s, p50, p99 in rows:
        print(
            f"{name:<60}{s['accuracy']:>9.4f}{s['macro_f1']:>9.4f}{train_s:>9.1f}"
            f"{p50:>8.2f}{p99:>8.2f}"
        )
    print(
        "ratios ticketflow/reference: accuracy "
        f"{ours_scores['accuracy'] / ref_scores['accuracy']:.3f}"
        f", macro-F1 {ours_scores['macro_f1'] / ref_scores['macro_f1']:.3f}"
        f", train time {ours_train / ref_train:.2f}, predict p50 {ours_p50 / ref_p50:.2f}"
    )
    print(
        "(ticketflow's predict returns team, probabilities, top-3 and feature weights; "
        "the reference's only probabilities)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
