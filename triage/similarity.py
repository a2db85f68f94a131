"""Text similarity for duplicate detection: TF-IDF character n-grams, cosine."""

from __future__ import annotations

from collections.abc import Sequence

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics.pairwise import cosine_similarity

from domain.triage import MAX_TEXT_CHARS


def similarities(text: str, candidates: Sequence[str]) -> list[float]:
    """Cosine similarity of `text` to each candidate; character n-grams work for Chinese too."""
    if not candidates:
        return []
    texts = [t[:MAX_TEXT_CHARS].lower() for t in (text, *candidates)]
    if not any(t.strip() for t in texts):
        return [0.0] * len(candidates)
    vectors = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4)).fit_transform(texts)
    return [float(v) for v in cosine_similarity(vectors[0], vectors[1:])[0]]
