"""Labelled sentences: the bundled corpus, and CSV files of text, label and language."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from sklearn.model_selection import train_test_split

from domain.sentiment import LABELS, LANGUAGES

COLUMNS = ("text", "label", "language")


class CsvProblem(ValueError):
    """The CSV lacks a column, names an unknown label or language, or has no rows."""


@dataclass(frozen=True)
class Labelled:
    """One sentence, its label and its language; `held` marks the corpus's held-apart rows."""

    text: str
    label: str
    language: str
    held: bool = False


def _rows(rows: Iterable[dict[str, str]], where: str) -> list[Labelled]:
    examples, problems = [], []
    for line, row in enumerate(rows, start=2):
        text, label = (row.get("text") or "").strip(), (row.get("label") or "").strip()
        language = (row.get("language") or "").strip()
        if not text:
            continue
        if label not in LABELS:
            problems.append(f"{where}:{line}: label {label!r} is not one of {', '.join(LABELS)}")
        elif language not in LANGUAGES:
            problems.append(f"{where}:{line}: language {language!r} is not one of en, zh")
        else:
            examples.append(Labelled(text, label, language, row.get("split") == "test"))
    if problems:
        raise CsvProblem("\n".join(problems[:20]))
    if not examples:
        raise CsvProblem(f"{where}: no labelled rows")
    return examples


def read_labelled(path: Path) -> list[Labelled]:
    """Every labelled row of a CSV file with the columns text, label and language."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise CsvProblem(f"{path}: no column {', '.join(missing)}")
            return _rows(reader, str(path))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise CsvProblem(f"{path}: cannot read it: {exc}") from exc


def bundled_corpus() -> list[Labelled]:
    """The corpus shipped with Ticketflow, its held-apart rows marked."""
    text = (files("sentiment") / "data" / "corpus.csv").read_text(encoding="utf-8")
    return _rows(csv.DictReader(text.splitlines()), "corpus.csv")


def split(
    examples: list[Labelled], *, test_size: float, seed: int = 0
) -> tuple[list[Labelled], list[Labelled]]:
    """Held-apart rows by language and label (stratified where every pair has two rows)."""
    strata = [f"{e.language}/{e.label}" for e in examples]
    try:
        train, test = train_test_split(
            examples, test_size=test_size, stratify=strata, random_state=seed
        )
    except ValueError:  # a pair with one row, or a test part smaller than the pairs
        train, test = train_test_split(examples, test_size=test_size, random_state=seed)
    return list(train), list(test)
