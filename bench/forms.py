"""Form generation and validation latency, and bulk validation against a pre-compiled baseline.

One run measures, in this process:

* Field types: the generator on the held-apart sentences of bench/data/form_sentences.yaml
  (none of their phrases is in the model's lexicon): the share of fields given the expected
  kind, by language and style, beside the rule table it replaced (the longest-keyword
  generator of commit `--before`, loaded from git in this run), how often each confidence
  band was right, and the time the model takes to train on first use.
* Generation: `generate_form` on one Chinese and one English sentence per bundled template
  (the template's field titles joined into a sentence), p50/p99 per call.
* Publish check: `schema_problems` on every form of every bundled template, p50/p99.
* Validation: `data_problems` on every form's examples, p50/p99 per submission.
* Definition checks: the pure publish checks of the process language (`process_problems`) on
  every bundled definition and a 20-branch gateway definition, with the expression caches
  cleared before each call (a first publish) and kept (a republish), beside
  `structural_problems` on the same definitions.
* Bulk: 1,000 submissions (a tenth of them invalid) against a 50-field form, validated with
  `data_problems` (ours: per-field problems, messages in the form's language, cached validator
  looked up by the schema's content) and with a jsonschema `Draft202012Validator` compiled once
  with the same format checker (baseline: its raw `iter_errors`). Prints both and the ratio.

Run from the repository root:

    .venv/bin/python bench/forms.py [--submissions N] [--repeat R] [--before REV]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
import types
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

# This script is named like the `forms` package it measures: keep its own folder off the path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import yaml  # noqa: E402
from jsonschema import Draft202012Validator  # noqa: E402

from domain.definitions import ProcessDefinition, structural_problems  # noqa: E402
from domain.expression_analysis import analyse  # noqa: E402
from domain.expressions import compile_expression  # noqa: E402
from domain.process_checks import PublishRules, process_problems  # noqa: E402
from forms.field_model import field_model  # noqa: E402
from forms.generate import REVIEW_BELOW, draft_fields, generate_form  # noqa: E402
from forms.library import bundled_templates  # noqa: E402
from forms.validation import _FORMAT_CHECKER, data_problems, schema_problems  # noqa: E402
from services.bundled import bundled_definitions  # noqa: E402

SENTENCES = Path(__file__).resolve().parent / "data" / "form_sentences.yaml"
# The last commit whose generator was the longest-keyword rule table.
RULE_TABLE_COMMIT = "5efc97f"
BANDS = (0.0, 0.5, 0.7, 0.9, 1.0)


def held_apart() -> list[dict[str, Any]]:
    """The held-apart sentences with their expected kinds."""
    return list(yaml.safe_load(SENTENCES.read_text(encoding="utf-8"))["sentences"])


def _rule_table_kinds(revision: str) -> Callable[[str], list[str]] | None:
    """The kinds the rule-table generator of `revision` gives, or None without git."""
    try:
        source = subprocess.run(
            ["git", "show", f"{revision}:forms/generate.py"],
            capture_output=True,
            check=True,
            text=True,
            cwd=Path(__file__).resolve().parents[1],
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    module = types.ModuleType("rule_table_generate")
    sys.modules[module.__name__] = module  # its dataclasses look their module up
    exec(compile(source, "rule_table_generate", "exec"), module.__dict__)
    known = {rule.key for rule in module.RULES}

    def kinds(text: str) -> list[str]:
        keys = [
            k.rsplit("_", 1)[0] if k[-1].isdigit() else k
            for k in module.generate_form(text)["properties"]
        ]
        return [k if k in known else "other" for k in keys]

    return kinds


def _score(expected: list[str], got: list[str]) -> int:
    return sum(e == g for e, g in zip(expected, got, strict=False))


def field_type_accuracy(before: str) -> None:
    """Print the share of held-apart fields given their expected kind, now and before."""
    start = time.perf_counter()
    field_model()
    trained = time.perf_counter() - start
    old = _rule_table_kinds(before)
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])  # right now, right before, n
    bands: dict[int, list[int]] = defaultdict(lambda: [0, 0])  # right, n
    confusions: dict[tuple[str, str], int] = defaultdict(int)
    for item in held_apart():
        expected = item["types"].split()
        language, fields = draft_fields(item["text"])
        got = [f.kind for f in fields]
        previous = _score(expected, old(item["text"])) if old else 0
        for group in ("all", language, f"{language} {item['style']}"):
            totals[group][0] += _score(expected, got)
            totals[group][1] += previous
            totals[group][2] += len(expected)
        for e, f in zip(expected, fields, strict=False):
            band = max(i for i, low in enumerate(BANDS[:-1]) if f.confidence >= low)
            bands[band][0] += e == f.kind
            bands[band][1] += 1
            if e != f.kind:
                confusions[(e, f.kind)] += 1
    n_sentences = len(held_apart())
    print(f"field-type model: trained on first use in {trained:.2f} s")
    print(f"held-apart sentences: {n_sentences}, fields: {totals['all'][2]}")
    print(f"{'field-type accuracy':24s} {'model':>7s} {'rules (' + before + ')':>16s}")
    for group in sorted(totals, key=lambda g: (g != "all", g)):
        now, previous, n = totals[group]
        shown = f"{previous / n:16.1%}" if old else f"{'n/a':>16s}"
        print(f"  {group:22s} {now / n:7.1%} {shown}   (n={n})")
    if old:
        now, previous, _n = totals["all"]
        print(f"ratio model / rule table (fields right): {now / max(previous, 1):.2f}x")
    print(f"confidence band (review below {REVIEW_BELOW}): right / fields")
    for band in sorted(bands):
        right, n = bands[band]
        print(
            f"  [{BANDS[band]:.1f}, {BANDS[band + 1]:.1f}{']' if band == len(BANDS) - 2 else ')'}"
            f"  {right / n:6.1%}  ({right}/{n})"
        )
    worst = sorted(confusions.items(), key=lambda kv: -kv[1])[:8]
    print(
        "most frequent misses (expected -> given): "
        + ", ".join(f"{e}->{g} {c}" for (e, g), c in worst)
    )


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return statistics.median(ordered), p99


def _time_each(calls: list[Callable[[], object]], repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        for call in calls:
            start = time.perf_counter()
            call()
            samples.append(time.perf_counter() - start)
    return samples


def _forms() -> list[dict[str, Any]]:
    found = []
    for template in bundled_templates():
        found.append(template.form)
        found.extend(stage["form"] for stage in template.definition["stages"])
    return found


def _sentences() -> list[str]:
    sentences = []
    for template in bundled_templates():
        titles = [str(p.get("title", name)) for name, p in template.form["properties"].items()]
        joiner = "、" if template.form.get("x-language") == "zh" else ", "
        sentences.append(joiner.join(titles))
    sentences += ["需要收集客户手机号、故障设备SN码、期望回电时间"] * 3
    sentences += ["collect the customer's email, order number and preferred callback time"] * 3
    return sentences


def fifty_field_form() -> dict[str, Any]:
    """A 50-field form mixing the usual keywords: formats, patterns, enums, ranges, lengths."""
    kinds: list[dict[str, Any]] = [
        {"type": "string", "minLength": 1, "maxLength": 200},
        {"type": "string", "format": "email"},
        {"type": "string", "format": "date-time"},
        {"type": "string", "pattern": "^[A-Z]{2,4}-[0-9]{4,8}$"},
        {"type": "integer", "minimum": 0, "maximum": 1000},
        {"enum": ["low", "medium", "high"]},
        {"type": "boolean"},
        {"type": "string", "format": "uri"},
        {"type": "number", "exclusiveMinimum": 0},
        {"type": "array", "items": {"type": "string"}, "maxItems": 5},
    ]
    properties = {f"f{i:02d}": {"title": f"Field {i}", **kinds[i % 10]} for i in range(50)}
    return {
        "type": "object",
        "required": list(properties)[:25],
        "additionalProperties": False,
        "properties": properties,
    }


def submissions(count: int) -> list[dict[str, Any]]:
    """Valid submissions, every tenth with three wrong fields."""
    values = [
        "Pump 3 leaks",
        "ana.martin@example.com",
        "2026-11-25T09:10:00+08:00",
        "PRS-004711",
        42,
        "high",
        True,
        "https://files.example.com/a.jpg",
        3.5,
        ["a", "b"],
    ]
    made = []
    for n in range(count):
        data = {f"f{i:02d}": values[i % 10] for i in range(50)}
        if n % 10 == 0:
            data.update(f01="not-an-email", f03="bad", f04=-1)
        made.append(data)
    return made


def gateway_definition() -> ProcessDefinition:
    """A triage task whose exclusive gateway has 20 branches, each to a service stage."""
    properties = {f"f{i}": {"type": "integer"} for i in range(20)}
    stages: list[dict[str, Any]] = [
        {
            "key": "triage",
            "title": "Triage",
            "group": "desk",
            "form": {"type": "object", "properties": properties},
            "gateway": {
                "type": "exclusive",
                "branches": [
                    {"to": f"s{i}", "when": f"stages.triage.data.f{i} > {i} && intake.n != {i}"}
                    for i in range(20)
                ],
                "default": "s0",
            },
        }
    ]
    stages += [
        {
            "key": f"s{i}",
            "title": f"Step {i}",
            "group": "desk",
            "kind": "service",
            "service": {
                "action": "ticket.set_fields",
                "params": {"fields": {"v": f"=stages.triage.data.f{i} * 2 + intake.n"}},
            },
        }
        for i in range(20)
    ]
    return ProcessDefinition.model_validate(
        {
            "key": "gateway",
            "title": "Gateway",
            "key_prefix": "GW",
            "department": "desk",
            "intake_form": {"type": "object", "properties": {"n": {"type": "integer"}}},
            "stages": stages,
        }
    )


def _cold(definition: ProcessDefinition) -> object:
    analyse.cache_clear()
    compile_expression.cache_clear()
    return process_problems(definition, PublishRules())


def main() -> None:
    """Run every measurement and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--submissions", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--before", default=RULE_TABLE_COMMIT, help="rule-table commit")
    args = parser.parse_args()

    field_type_accuracy(args.before)
    print()

    sentences, forms = _sentences(), _forms()
    definitions = [ProcessDefinition.model_validate(d) for _n, d in bundled_definitions()]
    definitions.append(gateway_definition())
    analyse("true")  # the parser's tables are built once per process, not per publish
    examples = [(f, e) for f in forms for e in f["examples"]]
    rows = [
        ("generate_form (per sentence)", [lambda s=s: generate_form(s) for s in sentences]),
        ("schema_problems (per form)", [lambda f=f: schema_problems(f) for f in forms]),
        (
            "data_problems (per submission)",
            [lambda f=f, e=e: data_problems(f, e) for f, e in examples],
        ),
        (
            "structural_problems (per def.)",
            [lambda d=d: structural_problems(d) for d in definitions],
        ),
        (
            "process_problems, first (per def.)",
            [lambda d=d: _cold(d) for d in definitions],
        ),
        (
            "process_problems, again (per def.)",
            [lambda d=d: process_problems(d, PublishRules()) for d in definitions],
        ),
    ]
    print(f"bundled templates: {len(bundled_templates())}, forms: {len(forms)}")
    for name, calls in rows:
        p50, p99 = _percentiles(_time_each(calls, args.repeat))
        print(f"{name:34s} p50 {p50 * 1e3:7.3f} ms   p99 {p99 * 1e3:7.3f} ms   (n={len(calls)})")

    form, batch = fifty_field_form(), submissions(args.submissions)
    baseline = Draft202012Validator(form, format_checker=_FORMAT_CHECKER)
    ours_problems = sum(len(data_problems(form, d)) for d in batch)  # warm the cache
    base_errors = sum(len(list(baseline.iter_errors(d))) for d in batch)
    best_ours = best_base = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for data in batch:
            data_problems(form, data)
        best_ours = min(best_ours, time.perf_counter() - start)
        start = time.perf_counter()
        for data in batch:
            list(baseline.iter_errors(data))
        best_base = min(best_base, time.perf_counter() - start)
    print(
        f"\n{len(batch)} submissions x 50-field form (best of 5): "
        f"data_problems {best_ours * 1e3:.1f} ms ({ours_problems} problems), "
        f"pre-compiled jsonschema {best_base * 1e3:.1f} ms ({base_errors} errors)"
    )
    print(f"ratio data_problems / pre-compiled jsonschema: {best_ours / best_base:.2f}x")


if __name__ == "__main__":
    main()
