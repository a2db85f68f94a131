"""Sentiment model benchmark on the bundled corpus's held-apart rows, per language.

Fits, on the corpus's training rows, the majority label (the floor), a word TF-IDF 1-2-gram +
LogisticRegression(C=10) reference, and Ticketflow's sentiment model (char_wb 1-4 TF-IDF,
calibrated logistic regression), then prints accuracy and macro-F1 per language on the
held-apart rows and the ratios against the reference measured in the same run.

    .venv/bin/python bench/sentiment.py
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

# This script's folder comes first on sys.path, and its name would hide the sentiment package.
del sys.path[0]

from sentiment.corpus import Labelled, bundled_corpus  # noqa: E402
from sentiment.training import fit  # noqa: E402
from triage.evaluation import score  # noqa: E402

Predict = Callable[[Sequence[str]], list[str]]


def _per_language(predict: Predict, held: list[Labelled]) -> dict[str, tuple[float, float]]:
    out = {}
    for language in ("en", "zh"):
        rows = [e for e in held if e.language == language]
        scores = score([e.label for e in rows], predict([e.text for e in rows]))
        out[language] = (scores["accuracy"], scores["macro_f1"])
    return out


def main() -> int:
    """Fit the three on the training rows; print their held-apart figures per language."""
    corpus = bundled_corpus()
    train = [e for e in corpus if not e.held]
    held = [e for e in corpus if e.held]
    texts, labels = [e.text for e in train], [e.label for e in train]
    majority = Counter(labels).most_common(1)[0][0]

    started = time.perf_counter()
    reference = make_pipeline(
        TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True),
        LogisticRegression(C=10, max_iter=3000),
    ).fit(texts, labels)
    reference_seconds = time.perf_counter() - started
    started = time.perf_counter()
    model = fit(train)
    model_seconds = time.perf_counter() - started

    results = {
        "majority label": _per_language(lambda xs: [majority] * len(xs), held),
        "reference: word 1-2 TF-IDF + LR(C=10)": _per_language(
            lambda xs: [str(y) for y in reference.predict(list(xs))], held
        ),
        "Ticketflow: char_wb 1-4 TF-IDF + calibrated LR": _per_language(model.predict_labels, held),
    }
    sys.stdout.write(
        f"{len(train)} training / {len(held)} held-apart sentences"
        f" ({Counter(e.language for e in held)})\n"
    )
    for name, figures in results.items():
        cells = "  ".join(f"{lang} acc {a:.3f} F1 {f:.3f}" for lang, (a, f) in figures.items())
        sys.stdout.write(f"{name:<48} {cells}\n")
    ours = results["Ticketflow: char_wb 1-4 TF-IDF + calibrated LR"]
    ref = results["reference: word 1-2 TF-IDF + LR(C=10)"]
    for language in ("en", "zh"):
        sys.stdout.write(
            f"ratio Ticketflow / reference, {language}: accuracy"
            f" {ours[language][0] / ref[language][0]:.2f}, macro-F1"
            f" {ours[language][1] / ref[language][1]:.2f}\n"
        )
    sys.stdout.write(
        f"training time: Ticketflow {model_seconds:.1f} s, reference {reference_seconds:.1f} s"
        f" (ratio {model_seconds / reference_seconds:.1f})\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
