"""How long a 20-branch gateway takes to decide in-process, against plain Python comparisons.

A gateway is decided inside the workflow task (`domain.process_paths.choose`) rather than in a
local activity: that is only sound if deciding costs far less than a local activity's round
trip (a marker and, for an Update, a second workflow task: milliseconds). One run measures:

* baseline: the same 20 conditions written as Python lambdas over the same context dict;
* warm: `choose` on an inclusive 20-branch gateway (every branch evaluated), its CEL programs
  already compiled (the cache keeps them per text, as in a long-lived worker);
* cold: the same with the compile cache cleared before every sample (a fresh worker, or a
  replay of a definition no worker has seen);
* context: building the expression context of a ticket with 20 stages of form data.

Printed: p50 and p99 per decision of each, and the ratio of the warm and cold p50 to the
baseline's.

Run from the repository root:

    .venv/bin/python bench/gateways.py [--samples N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from domain.definitions import Gateway, ProcessDefinition
from domain.expressions import compile_expression
from domain.process_paths import choose
from domain.ticket import Actor, TicketState

BRANCHES = 20


def conditions() -> list[str]:
    """Twenty conditions of the kinds definitions use: numbers, text, lists, nested data."""
    found = []
    for i in range(BRANCHES):
        found.append(
            [
                f"intake.severity > {i % 5}",
                f"stages.assess.data.level >= {i} && intake.site == 'plant-{i}'",
                f"'tag{i}' in intake.tags",
                f"size(stages.s{i}.data.note) > {i} || fields.total < {i * 10}",
            ][i % 4]
        )
    return found


def baseline_checks() -> list[Callable[[dict[str, Any]], bool]]:
    """The same conditions as Python lambdas."""
    checks: list[Callable[[dict[str, Any]], bool]] = []
    for i in range(BRANCHES):
        kind = i % 4
        if kind == 0:
            checks.append(lambda c, i=i: c["intake"]["severity"] > i % 5)
        elif kind == 1:
            checks.append(
                lambda c, i=i: (
                    c["stages"]["assess"]["data"]["level"] >= i
                    and c["intake"]["site"] == f"plant-{i}"
                )
            )
        elif kind == 2:
            checks.append(lambda c, i=i: f"tag{i}" in c["intake"]["tags"])
        else:
            checks.append(
                lambda c, i=i: (
                    len(c["stages"][f"s{i}"]["data"]["note"]) > i or c["fields"]["total"] < i * 10
                )
            )
    return checks


def ticket() -> TicketState:
    """A ticket of 21 stages, each done with a little form data."""
    stages = [{"key": "assess", "title": "Assess", "group": "ops"}]
    stages += [{"key": f"s{i}", "title": f"S{i}", "group": "ops"} for i in range(BRANCHES)]
    definition = ProcessDefinition.model_validate(
        {
            "key": "bench",
            "version": 1,
            "title": "Bench",
            "key_prefix": "B",
            "department": "ops",
            "intake_form": {"type": "object"},
            "stages": stages,
        }
    )
    state = TicketState.create(
        key="B-1",
        definition=definition,
        intake={"severity": 3, "site": "plant-5", "tags": ["tag3", "tag7", "tag11"]},
        requester=Actor(user="rita"),
        now=datetime(2026, 12, 1, tzinfo=UTC),
    )
    state.tasks["assess"].data = {"level": 7}
    for i in range(BRANCHES):
        state.tasks[f"s{i}"].data = {"note": "x" * (i * 2), "count": i}
    state.fields = {"total": 55}
    return state


def percentiles(samples: list[float]) -> tuple[float, float]:
    """p50 and p99 in microseconds."""
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return statistics.median(ordered) * 1e6, p99 * 1e6


def measure(
    run: Callable[[], object], samples: int, before: Callable[[], None] | None = None
) -> list[float]:
    """Seconds per call of `run`, one sample each (`before` runs untimed ahead of each)."""
    times = []
    for _ in range(samples):
        if before is not None:
            before()
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    """Measure and print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=2000)
    args = parser.parse_args()
    state = ticket()
    context = state.expression_context()
    gateway = Gateway.model_validate(
        {
            "type": "inclusive",
            "branches": [{"to": f"s{i}", "when": w} for i, w in enumerate(conditions())],
            "default": "assess",
        }
    )
    checks = baseline_checks()
    expected = [b.to for b, check in zip(gateway.branches, checks, strict=True) if check(context)]
    assert choose(gateway, context).taken == expected, "CEL and Python disagree"

    baseline = measure(lambda: [check(context) for check in checks], args.samples)
    warm = measure(lambda: choose(gateway, context), args.samples)
    cold = measure(
        lambda: choose(gateway, context),
        max(args.samples // 10, 50),
        compile_expression.cache_clear,
    )
    building = measure(state.expression_context, args.samples)

    rows = [
        ("baseline (Python lambdas)", baseline),
        ("warm (compiled CEL)", warm),
        ("cold (compile + evaluate)", cold),
        ("expression context", building),
    ]
    print(f"20-branch inclusive gateway, {args.samples} samples (cold: {len(cold)})")
    for name, samples in rows:
        p50, p99 = percentiles(samples)
        print(f"  {name:28} p50 {p50:9.1f} us   p99 {p99:9.1f} us")
    base50 = percentiles(baseline)[0]
    print(f"  warm / baseline p50: {percentiles(warm)[0] / base50:.1f}x")
    print(f"  cold / baseline p50: {percentiles(cold)[0] / base50:.1f}x")


if __name__ == "__main__":
    main()
