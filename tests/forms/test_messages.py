"""Form data errors: per field, in the form's language, with strict formats."""

from __future__ import annotations

from typing import Any

import pytest

from forms.validation import data_problems

FIELDS: dict[str, Any] = {
    "name": {"type": "string", "minLength": 2, "maxLength": 5},
    "email": {"type": "string", "format": "email"},
    "code": {"type": "string", "pattern": "^[A-Z]+$"},
    "count": {"type": "integer", "minimum": 1, "maximum": 9},
    "level": {"enum": ["low", "high"]},
    "ok": {"const": True},
    "tags": {"type": "array", "maxItems": 3, "uniqueItems": True},
}


def _form(language: str | None) -> dict[str, Any]:
    form: dict[str, Any] = {
        "type": "object",
        "required": ["name"],
        "properties": FIELDS,
        "additionalProperties": False,
    }
    if language:
        form["x-language"] = language
    return form


BAD = {
    "email": "a@b",
    "code": "abc",
    "count": 10,
    "level": "mid",
    "ok": False,
    "tags": [1, 1],
    "extra": 1,
}
EXPECTED = {
    "en": {
        "/code": "does not match the expected format",
        "/count": "must be at most 9",
        "/email": "must be a valid email",
        "/extra": "this field is not allowed here",
        "/level": 'must be one of "low", "high"',
        "/name": "this field is required",
        "/ok": "must be true",
        "/tags": "items must not repeat",
    },
    "zh": {
        "/code": "格式不正确",
        "/count": "不能大于 9",
        "/email": "不是有效的 email",
        "/extra": "不允许填写此项",
        "/level": '必须是以下之一："low", "high"',
        "/name": "此项为必填项",
        "/ok": "必须为 true",
        "/tags": "各项不能重复",
    },
}


@pytest.mark.parametrize(("language", "expected"), [(None, "en"), ("en", "en"), ("zh", "zh")])
def test_messages_are_in_the_form_language(language: str | None, expected: str) -> None:
    problems = data_problems(_form(language), BAD)
    found = {p.pointer: p.detail for p in problems}
    assert sorted(found) == sorted(EXPECTED[expected])
    for where, text in EXPECTED[expected].items():
        assert text in found[where], where


@pytest.mark.parametrize(
    ("data", "en", "zh"),
    [
        ({"name": 3}, "must be of type string", "类型应为 文本"),
        ({"name": "a"}, "must be at least 2 characters long", "至少需要 2 个字符"),
        ({"name": "abcdef"}, "must be at most 5 characters long", "最多 5 个字符"),
        ({"name": "ab", "count": 0}, "must be at least 1", "不能小于 1"),
    ],
)
def test_length_type_and_range_messages(data: dict[str, Any], en: str, zh: str) -> None:
    assert en in [p.detail for p in data_problems(_form("en"), data)]
    assert zh in [p.detail for p in data_problems(_form("zh"), data)]


@pytest.mark.parametrize(
    ("address", "valid"),
    [
        ("ana.martin@example.com", True),
        ("o'brien+tickets@mail.example.co.uk", True),
        ("a@b", False),
        ("a@@example.com", False),
        ("ana martin@example.com", False),
        ("ana@example", False),
        ("ana@-example.com", False),
        ("@example.com", False),
        ("ana.@example.com", False),
        ("a" * 65 + "@example.com", False),
    ],
)
def test_email_is_stricter_than_an_at_sign(address: str, valid: bool) -> None:
    problems = data_problems(_form(None), {"name": "ab", "email": address})
    assert (problems == []) == valid


@pytest.mark.parametrize(("language", "text"), [("en", "does not match"), ("zh", "格式不正确")])
def test_patterns_run_on_long_strings_in_linear_time(language: str, text: str) -> None:
    # Exponential on a backtracking engine; RE2 checks 100,000 characters at once.
    form = {
        "type": "object",
        "x-language": language,
        "properties": {"code": {"type": "string", "pattern": "^(a|a)*c$"}},
    }
    (problem,) = data_problems(form, {"code": "a" * 100_000})
    assert problem.pointer == "/code"
    assert text in problem.detail
    assert data_problems(form, {"code": "a" * 100_000 + "c"}) == []


def test_counts_of_one_are_singular() -> None:
    form = {
        "type": "object",
        "properties": {
            "title": {"type": "string", "minLength": 1},
            "code": {"type": "string", "maxLength": 1},
            "tags": {"type": "array", "minItems": 1},
            "pair": {"type": "array", "maxItems": 1},
            "extra": {"type": "object", "minProperties": 1},
            "one": {"type": "object", "maxProperties": 1},
        },
    }
    data = {
        "title": "",
        "code": "ab",
        "tags": [],
        "pair": [1, 2],
        "extra": {},
        "one": {"a": 1, "b": 2},
    }
    found = {p.pointer: p.detail for p in data_problems(form, data)}
    assert found == {
        "/title": "must be at least 1 character long",
        "/code": "must be at most 1 character long",
        "/tags": "needs at least 1 item",
        "/pair": "allows at most 1 item",
        "/extra": "needs at least 1 field",
        "/one": "allows at most 1 field",
    }
