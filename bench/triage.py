"""Triage model benchmark on the IT service tickets data set, against the README's reference.

Runs the data set's fixed split (stratified 80/20, random_state=0), trains the reference
(TF-IDF word 1-2-grams + LogisticRegression(C=10)) and Ticketflow's triage model in the same
run: the candidates cross-validated on the training part (their scores are printed), the
winner refitted on all of it and scored on the test part. Prints accuracy, macro-F1,
training time, single-ticket predict latency and ratios, then the auto-route rate on the test
part at the default threshold with and without the evidence check, and what happens to a
set of vague and off-topic tickets.

    .venv/bin/python bench/triage.py [--data ../shared/datasets/it-service-tickets/tickets.csv.gz]
        [--folds 3] [--budget 900] [--candidates word-svm,blend]
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

from domain.triage import DEFAULT_FOLDS, DEFAULT_SEARCH_SECONDS, TriageResult, TriageTicket  # noqa: E402
from domain.triage_settings import DEFAULT_MIN_EVIDENCE  # noqa: E402
from triage.candidates import CANDIDATES, candidate_named  # noqa: E402
from triage.csv_import import read_examples  # noqa: E402
from triage.evaluation import score  # noqa: E402
from triage.model import TriageModel  # noqa: E402
from triage.training import train_selected  # noqa: E402

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared/datasets/it-service-tickets"
LATENCY_SAMPLES = 500
THRESHOLD = 0.7  # the triage block's default
VAGUE_AND_OFF_TOPIC = [
    "hello, something is odd, please call me",
    "hi",
    "help",
    "it does not work",
    "please call me back",
    "good morning, i have a question",
    "thanks",
    "urgent, please check asap",
    "something is wrong, can someone look at it",
    "what is the weather tomorrow",
    "who won the football match yesterday",
    "i would like to order a pizza",
    "tell me a joke",
    "my cat is sick",
    "asdf qwerty",
]


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
    parser.add_argument("--folds", type=int, default=DEFAULT_FOLDS)
    parser.add_argument("--budget", type=float, default=DEFAULT_SEARCH_SECONDS)
    parser.add_argument("--candidates", default="", help="comma-separated names (default: all)")
    args = parser.parse_args()
    names = [n.strip() for n in args.candidates.split(",") if n.strip()]
    candidates = tuple(candidate_named(n) for n in names) if names else CANDIDATES
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

    run = train_selected(
        train, folds=args.folds, budget_seconds=args.budget, current=None, candidates=candidates
    )
    model, ours_train = run.model, run.seconds
    print(
        f"candidates, {run.selection['folds']}-fold cross-validation on the training part "
        f"(search {run.selection['search_seconds']:.0f} s, budget {args.budget:.0f} s):"
    )
    for c in run.selection["candidates"]:
        cv = f"{c['accuracy']:.4f} {c['macro_f1']:.4f}" if c["accuracy"] is not None else "-"
        print(
            f"  {c['name']:<14} {c['status']:<12} acc/F1 {cv:<14} folds {c['fold_seconds']:.1f} s"
        )
    print(f"winner: {model.candidate}, refitted on all {len(train)} training tickets")
    ours_scores = score(truth, model.predict_labels([e.ticket for e in test]))
    ours_p50, ours_p99 = _latency_ms(model.predict, [e.ticket for e in test[:LATENCY_SAMPLES]])

    rows = [
        ("reference: TF-IDF word 1-2 + LR(C=10)", ref_scores, ref_train, ref_p50, ref_p99),
        (
            f"ticketflow: selected {model.candidate} (incl. search)",
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
    _routing(model, [e.ticket for e in test])
    return 0


def _routed(result: TriageResult, evidence_check: bool) -> bool:
    """The routing rule of domain.triage_routing, with or without its evidence check."""
    sure = result.confidence >= THRESHOLD
    enough = result.evidence is None or result.evidence >= DEFAULT_MIN_EVIDENCE
    return sure and (enough or not evidence_check)


def _routing(model: TriageModel, tickets: list[TriageTicket]) -> None:
    """Auto-route rates on the test part, and the vague set, before and after evidence."""
    results = [model.predict(t) for t in tickets]
    before = sum(_routed(r, False) for r in results) / len(results)
    after = sum(_routed(r, True) for r in results) / len(results)
    print(
        f"auto-routed at threshold {THRESHOLD} on the test part: confidence only {before:.4f}, "
        f"with evidence >= {DEFAULT_MIN_EVIDENCE} {after:.4f} (ratio {after / before:.3f})"
    )
    vague = [(text, model.predict(TriageTicket(title=text))) for text in VAGUE_AND_OFF_TOPIC]
    print(
        f"vague/off-topic set ({len(vague)}): auto-routed on confidence only "
        f"{sum(_routed(r, False) for _, r in vague)}, with evidence "
        f"{sum(_routed(r, True) for _, r in vague)}"
    )
    for text, r in vague:
        print(f"  {r.team:<22} conf {r.confidence:.3f} evidence {r.evidence or 0.0:.3f}  {text}")


if __name__ == "__main__":
    raise SystemExit(main())
