"""Read labelled tickets from a CSV export of another ticket system (offline bootstrap)."""

from __future__ import annotations

import csv
import gzip
from collections.abc import Sequence
from pathlib import Path

from domain.triage import CATEGORICAL_FIELDS, TriageTicket
from triage.training import Example


class CsvProblem(ValueError):
    """The CSV lacks a named column or has no labelled rows."""


def read_examples(
    path: Path,
    *,
    text: Sequence[str],
    label: str,
    category: str | None = None,
    priority: str | None = None,
) -> list[Example]:
    """One example per row with a label: the text columns joined, known categoricals kept."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        columns = set(reader.fieldnames or [])
        wanted = [*text, label, *(c for c in (category, priority) if c)]
        missing = [c for c in wanted if c not in columns]
        if missing:
            raise CsvProblem(f"{path}: no column {', '.join(missing)} (has {sorted(columns)})")
        examples = [
            Example(
                ticket=TriageTicket(
                    title=row[text[0]] if len(text) > 1 else "",
                    description="\n".join(row[c] for c in (text[1:] if len(text) > 1 else text)),
                    fields={f: row[f] for f in CATEGORICAL_FIELDS if row.get(f)},
                ),
                team=row[label].strip(),
                category=(row[category].strip() or None) if category else None,
                priority=(row[priority].strip() or None) if priority else None,
            )
            for row in reader
            if row[label].strip()
        ]
    if not examples:
        raise CsvProblem(f"{path}: no row has a value in {label!r}")
    return examples
