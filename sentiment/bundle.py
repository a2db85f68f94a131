"""Write the bundled model: `python -m sentiment.bundle` after the corpus or the model changes.

It fits the model on the corpus's training rows, stores it beside the corpus with its
SHA-256, and prints its accuracy per language on the held-apart rows.
"""

from __future__ import annotations

import sys
from pathlib import Path

from sentiment.artifacts import BUNDLED, BUNDLED_SHA256, save_model
from sentiment.corpus import bundled_corpus
from sentiment.training import evaluate, fit_bundled


def main() -> int:
    """Fit, save and report the bundled model."""
    folder = Path(__file__).with_name("data")
    model = fit_bundled()
    sha256 = save_model(model, folder / BUNDLED)
    (folder / BUNDLED_SHA256).write_text(f"{sha256}  {BUNDLED}\n", encoding="utf-8")
    scores = evaluate(model, [e for e in bundled_corpus() if e.held])
    for language, part in scores["by_language"].items():
        sys.stdout.write(
            f"{language}: accuracy {part['accuracy']:.3f}, macro-F1 {part['macro_f1']:.3f}"
            f" on {part['support']} held-apart sentences\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
