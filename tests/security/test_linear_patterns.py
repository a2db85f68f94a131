"""Form patterns run on a linear-time engine, and form checks run off the event loop."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest

from forms.patterns import pattern_problem, search
from forms.validation import check_limiter, data_problems, schema_problems
from tests.api.conftest import Api

# Each takes time exponential in the input on a backtracking engine (25 characters: 2 s).
ALTERNATIONS = [r"^(a|a)*$", r"^(\d|\d\d)*$", r"^(a+)+$", r"^(\w|\w\w)*@$"]
HOSTILE_INPUT = {r"^(a|a)*$": "a", r"^(\d|\d\d)*$": "1", r"^(a+)+$": "a", r"^(\w|\w\w)*@$": "a"}


def _form(pattern: str, *examples: str, where: str = "pattern") -> dict[str, Any]:
    field: dict[str, Any] = {"type": "string"}
    schema: dict[str, Any] = {"type": "object", "properties": {"code": field}}
    if where == "pattern":
        field["pattern"] = pattern
    else:
        schema["patternProperties"] = {pattern: {"type": "string"}}
    schema["examples"] = [{"code": e} if where == "pattern" else {e: "x"} for e in examples]
    return schema


@pytest.mark.parametrize("pattern", ALTERNATIONS)
def test_alternations_and_nested_repeats_match_in_linear_time(pattern: str) -> None:
    text = HOSTILE_INPUT[pattern] * 50_000 + "!"
    assert pattern_problem(pattern) is None
    assert search(pattern, text) is False
    assert search(pattern, text[:-1]) is (not pattern.endswith("@$"))


@pytest.mark.parametrize("where", ["pattern", "patternProperties"])
@pytest.mark.parametrize("pattern", ALTERNATIONS)
def test_a_forms_examples_are_checked_on_re2(pattern: str, where: str) -> None:
    hostile = HOSTILE_INPUT[pattern] * 10_000 + "!"
    problems = schema_problems(_form(pattern, hostile, where=where))
    if where == "pattern":
        assert [p.pointer for p in problems] == ["/examples/0/code"]
        assert "does not match" in problems[0].detail  # checked, not skipped for its length
    else:  # the name matches no pattern: just an ordinary field name
        assert problems == []


def test_submitted_data_is_checked_on_re2() -> None:
    schema = {
        "type": "object",
        "patternProperties": {r"^(a|a)*$": {"type": "integer"}},
        "additionalProperties": False,
        "properties": {"code": {"type": "string", "pattern": r"^(\d|\d\d)*$"}},
    }
    name = "a" * 10_000
    data = {"code": "1" * 10_000 + "x", name: "not a number", name + "!": 1}
    problems = data_problems(schema, data)
    assert {p.pointer for p in problems} == {"/code", f"/{name}", f"/{name}!"}


@pytest.mark.parametrize("pattern", [r"(a)\1", r"(?=a)a", r"(?<!a)b", r"a(?!b)"])
def test_backreferences_and_lookaround_are_refused_at_publish(pattern: str) -> None:
    for where, at in [("pattern", "/properties/code/pattern"), ("patternProperties", None)]:
        problems = schema_problems(_form(pattern, where=where))
        assert [p.pointer for p in problems] == [at or f"/patternProperties/{pattern}"]
        assert "RE2" in problems[0].detail


async def test_the_reported_stall_is_gone(api: Api) -> None:
    # The finding: 25 characters stalled every request for 2 s (each more doubling it).
    schema = _form(r"^(a|a)*$", "a" * 10_000 + "!")
    report = await api.http.post(
        "/forms/validate", json={"schema": schema}, headers=api.auth("rita")
    )
    assert report.status_code == 200, report.text
    [error] = report.json()["errors"]
    assert error["pointer"] == "/schema/examples/0/code"
    assert "does not match" in error["detail"]
    refused = await api.http.post(
        "/forms/validate", json={"schema": _form(r"(\w)\1")}, headers=api.auth("rita")
    )
    assert [e["pointer"] for e in refused.json()["errors"]] == ["/schema/properties/code/pattern"]


def _slow_form() -> dict[str, Any]:
    """A legal form whose example takes seconds to check: long text, large linear patterns."""
    text = "".join(random.Random(0).choice("ab") for _ in range(60_000))
    patterns = [{"pattern": f"{c}[ab]{{{999 - i}}}c"} for i in range(3) for c in "ab"]
    field = {"type": "string", "allOf": patterns}
    return {"type": "object", "properties": {"code": field}, "examples": [{"code": text}]}


async def test_a_slow_check_leaves_other_requests_answered(api: Api) -> None:
    limiter = check_limiter()
    slow = asyncio.create_task(
        api.http.post("/forms/validate", json={"schema": _slow_form()}, headers=api.auth("rita"))
    )
    while limiter.borrowed_tokens == 0:  # until the check runs in its worker thread
        assert not slow.done(), slow.result().text
        await asyncio.sleep(0.01)
    health = await api.http.get("/healthz")
    assert health.status_code == 200
    # The health answer came while the check was still running, not after it.
    assert not slow.done()
    report = await slow
    assert report.status_code == 200, report.text
    assert report.json()["valid"] is False
