"""Drafting a form from one sentence: "需要收集客户手机号、故障设备SN码、期望回电时间".

The sentence is read into phrases (forms/phrases.py: separators, filler, `必填`/`optional`,
questions, listed choices, numeric bounds); the model (forms/field_model.py) names each
phrase's kind from its character n-grams; the rule table (forms/field_kinds.py) turns the kind
into a schema. Every field carries the model's confidence (`x-confidence`); a phrase the model
is unsure of, or knows no type for, becomes a text field flagged `x-review`, in place, so
nothing the author asked for is dropped. Titles are the author's own words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from anyio import to_thread

from domain.problems import Problem, Rejected
from forms.field_kinds import PART_OF, PHONE_PATTERN, SCHEMAS, WORDED, schema_for, with_bounds
from forms.field_model import field_model
from forms.phrases import Phrase, language_of, read_phrases
from forms.validation import DIALECT, check_limiter

__all__ = ["MAX_TEXT_LENGTH", "PHONE_PATTERN", "DraftField", "GenerationRejected", "generate_form"]

MAX_TEXT_LENGTH = 2000
MAX_FIELDS = 60
# Below this probability a phrase's kind is a guess a person should check. Picked on the
# held-apart sentences (bench/forms.py prints accuracy above and below it).
REVIEW_BELOW = 0.5
# Explicit syntax (a question mark, a list of choices, bounds) is not a guess.
EXPLICIT = 1.0
NUMERIC = frozenset({"quantity", "percentage", "number", "range", "amount"})
_CURRENCY_WORDS = (
    ("USD", ("usd", "us$", "dollar", "美元", "美金", "$")),
    ("EUR", ("eur", "euro", "欧元", "€")),
    ("HKD", ("hkd", "港币", "港元")),
    ("JPY", ("jpy", "yen", "日元", "円")),
    ("GBP", ("gbp", "pound", "sterling", "英镑", "£")),
    ("CNY", ("cny", "rmb", "yuan", "人民币", "¥", "￥")),
)


class GenerationRejected(Rejected):
    """The text cannot be turned into a form; every problem is listed."""


@dataclass(frozen=True)
class DraftField:
    """One generated field: its kind, its schema and how sure the model was."""

    key: str
    kind: str
    title: str
    required: bool
    confidence: float
    schema: dict[str, Any]


def generate_form(
    text: str, *, title: str | None = None, review_below: float = REVIEW_BELOW
) -> dict[str, Any]:
    """Draft a form schema (not published) from one sentence in Chinese or English."""
    stripped = text.strip()
    language, fields = draft_fields(stripped, review_below=review_below)
    properties = {
        f.key: {"title": f.title, **f.schema, "x-confidence": f.confidence} for f in fields
    }
    return {
        "$schema": DIALECT,
        "title": title
        or _title(stripped if len(stripped) <= 80 else stripped[:77] + "...", language),
        "description": stripped if len(stripped) <= 1000 else stripped[:997] + "...",
        "type": "object",
        "x-language": language,
        "x-order": list(properties),
        "required": [f.key for f in fields if f.required],
        "properties": properties,
    }


async def generate_form_in_thread(text: str, *, title: str | None = None) -> dict[str, Any]:
    """`generate_form` in a worker thread: the model (and its first training) never holds
    up the event loop."""
    return await to_thread.run_sync(
        lambda: generate_form(text, title=title), limiter=check_limiter()
    )


def draft_fields(text: str, *, review_below: float = REVIEW_BELOW) -> tuple[str, list[DraftField]]:
    """The sentence's language and its fields in order; refuses text that names none."""
    stripped = text.strip()
    _check_length(stripped)
    language = language_of(stripped)
    phrases = read_phrases(stripped, language)
    if not phrases:
        raise GenerationRejected(
            [Problem(pointer="/text", detail="no field could be read from the text")]
        )
    if len(phrases) > MAX_FIELDS:
        raise GenerationRejected(
            [Problem(pointer="/text", detail=f"the text names more than {MAX_FIELDS} fields")]
        )
    guesses = field_model().guess([p.words for p in phrases])
    fields: list[DraftField] = []
    for index, (phrase, guess) in enumerate(zip(phrases, guesses, strict=True), start=1):
        kind, confidence = _kind(phrase, guess.kind, guess.confidence, review_below)
        if PART_OF.get(kind) in {f.kind for f in fields}:
            continue  # "amount and currency": the amount field carries its currency
        key = _key(kind, guess.kind, guess.confidence >= review_below, phrase, language, index)
        fields.append(
            DraftField(
                key=_unique_key(key, {f.key for f in fields}),
                kind=kind,
                title=_title(phrase.words, language),
                required=phrase.required,
                confidence=confidence,
                schema=_schema(kind, phrase),
            )
        )
    return language, fields


def _check_length(stripped: str) -> None:
    if not stripped:
        raise GenerationRejected(
            [Problem(pointer="/text", detail="the text is empty; describe the fields to collect")]
        )
    if len(stripped) > MAX_TEXT_LENGTH:
        raise GenerationRejected(
            [
                Problem(
                    pointer="/text",
                    detail=f"the text is {len(stripped)} characters long; at most "
                    f"{MAX_TEXT_LENGTH} are read. Describe the fields in a sentence or two.",
                )
            ]
        )


def _kind(
    phrase: Phrase, guessed: str, confidence: float, review_below: float
) -> tuple[str, float]:
    """What the rules say explicitly wins; then the model, when it is sure enough."""
    if phrase.question:
        return "yes_no", EXPLICIT
    if phrase.options:
        return "choice", EXPLICIT
    if confidence >= review_below and guessed != "other":
        return guessed, confidence
    if phrase.bounds is not None:
        return "number", EXPLICIT
    return "other", confidence


def _key(kind: str, guessed: str, sure: bool, phrase: Phrase, language: str, index: int) -> str:
    if kind not in WORDED:
        return kind
    if kind == "choice" and sure and guessed not in WORDED:
        return guessed  # "priority: high, medium or low" is the priority field
    slug = re.sub(r"[^a-z0-9]+", "_", phrase.words.lower()).strip("_")[:40].strip("_")
    if language == "en" and slug and slug[0].isalpha():
        return slug
    return f"field_{index}" if kind == "other" else kind


def _schema(kind: str, phrase: Phrase) -> dict[str, Any]:
    schema = schema_for(kind)
    if kind == "choice":
        schema["enum"] = list(phrase.options)
    if kind == "amount":
        schema["properties"]["currency"]["default"] = _currency(phrase.words)
    if phrase.bounds is not None and kind in NUMERIC:
        schema = with_bounds(kind, schema, *phrase.bounds)
    return schema


def _currency(words: str) -> str:
    """The currency the phrase names ("refund in USD", "金额（美元）"), CNY when none."""
    lowered = words.lower()
    for code, names in _CURRENCY_WORDS:
        if any(name in lowered for name in names):
            return code
    return str(SCHEMAS["amount"]["properties"]["currency"]["default"])


def _title(words: str, language: str) -> str:
    return words if language == "zh" else words[:1].upper() + words[1:]


def _unique_key(key: str, taken: set[str]) -> str:
    candidate, n = key, 2
    while candidate in taken:
        candidate, n = f"{key}_{n}", n + 1
    return candidate
