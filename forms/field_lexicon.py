"""The bundled field lexicon: labelled phrases naming form fields (forms/data/*.yaml)."""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from typing import Any

import yaml

LANGUAGES = ("zh", "en")


def _expand(entry: dict[str, Any], language: str) -> list[str]:
    heads, modifiers = list(entry.get("heads", [])), list(entry.get("modifiers", []))
    joiner = "" if language == "zh" else " "
    return [*heads, *entry.get("phrases", []), *(m + joiner + h for m in modifiers for h in heads)]


@cache
def lexicon() -> tuple[tuple[str, str, str], ...]:
    """Every (phrase, language, kind) of the lexicon, in file order, each phrase once."""
    source = files("forms").joinpath("data/field_lexicon.yaml").read_text(encoding="utf-8")
    seen: set[str] = set()
    rows = []
    for kind, languages in yaml.safe_load(source)["kinds"].items():
        for language in LANGUAGES:
            for phrase in _expand(languages[language], language):
                if phrase.lower() not in seen:
                    seen.add(phrase.lower())
                    rows.append((str(phrase), language, str(kind)))
    return tuple(rows)


def phrase_labels() -> dict[str, set[str]]:
    """Each phrase (lower case) with every kind the file gives it: more than one is an error."""
    source = files("forms").joinpath("data/field_lexicon.yaml").read_text(encoding="utf-8")
    labels: dict[str, set[str]] = {}
    for kind, languages in yaml.safe_load(source)["kinds"].items():
        for language in LANGUAGES:
            for phrase in _expand(languages[language], language):
                labels.setdefault(str(phrase).lower(), set()).add(str(kind))
    return labels
