"""The bundled lexicon and the held-apart sentences: large enough, labelled once, kept apart."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import yaml

from forms.field_kinds import SCHEMAS
from forms.field_lexicon import lexicon, phrase_labels
from forms.field_model import FieldModel, head
from forms.phrases import language_of, read_phrases

SENTENCES = Path(__file__).resolve().parents[2] / "bench" / "data" / "form_sentences.yaml"
RULE_ONLY = {"choice"}  # decided by the sentence's syntax, never by the model


def _sentences() -> list[dict[str, Any]]:
    return list(yaml.safe_load(SENTENCES.read_text(encoding="utf-8"))["sentences"])


def test_the_lexicon_covers_every_kind_in_both_languages() -> None:
    rows = lexicon()
    assert len(rows) >= 2000
    per_language = Counter((kind, language) for _, language, kind in rows)
    for kind in set(SCHEMAS) - RULE_ONLY:
        assert per_language[(kind, "zh")] >= 20, kind
        assert per_language[(kind, "en")] >= 20, kind
    assert {kind for _, _, kind in rows} == set(SCHEMAS) - RULE_ONLY


def test_no_phrase_has_two_labels() -> None:
    assert {p: k for p, k in phrase_labels().items() if len(k) > 1} == {}


def test_the_held_apart_sentences_share_no_phrase_with_the_lexicon() -> None:
    known = {phrase.lower() for phrase, _, _ in lexicon()}
    sentences = _sentences()
    overlap = []
    for item in sentences:
        for phrase in read_phrases(item["text"], language_of(item["text"])):
            if phrase.words.lower() in known:
                overlap.append(phrase.words)
    assert overlap == []


def test_the_held_apart_set_is_large_and_varied() -> None:
    sentences = _sentences()
    assert len(sentences) >= 200
    by_group = Counter((language_of(s["text"]), s["style"]) for s in sentences)
    assert set(by_group) == {(lang, style) for lang in ("zh", "en")
                             for style in ("list", "sentence", "bullets")}  # fmt: skip
    assert min(by_group.values()) >= 30
    expected = {kind for s in sentences for kind in s["types"].split()}
    assert expected <= set(SCHEMAS)
    assert expected >= {"employee_id", "sku", "ticket_number", "licence_plate", "amount",
                        "percentage", "url", "duration", "yes_no", "choice", "range"}  # fmt: skip


def test_training_is_deterministic() -> None:
    rows = lexicon()[::7]
    phrases, kinds = [p for p, _, _ in rows], [k for _, _, k in rows]
    probe = ["visit date", "客户手机号", "something else entirely"]
    first = FieldModel.train(phrases, kinds).pipeline.predict_proba(probe)
    second = FieldModel.train(phrases, kinds).pipeline.predict_proba(probe)
    assert (first == second).all()


def test_the_head_is_the_named_thing() -> None:
    assert head("date of purchase") == "date"
    assert head("Customer's Phone") == "phone"
    assert head("photos after the repair") == "photos"
    assert head("客户手机号") == "户手机号"
