"""A 20-branch gateway's decision, and a ticket of five automated stages against bare Temporal.

Part 1, in-process. A gateway is decided inside the workflow task
(`domain.process_paths.choose`) rather than in a local activity: that is only sound if deciding
costs far less than a local activity's round trip. Measured:

* baseline: the same 20 conditions written as Python lambdas over the same context dict;
* warm: `choose` on an inclusive 20-branch gateway (every branch evaluated), its CEL programs
  already compiled (the cache keeps them per text, as in a long-lived worker);
* cold: the same with the compile cache cleared before every sample (a fresh worker, or a
  replay of a definition no worker has seen);
* context: building the expression context of a ticket with 20 stages of form data.

Printed: p50 and p99 per decision of each, and the ratio of the warm and cold p50 to the
baseline's.

Part 1b, bounded cost. Every evaluation is first bounded on its data
(`domain.expression_cost`); one decision may take `STEP_BUDGET` steps. For shapes that take
seconds unbounded (nested comprehensions, copies of long texts, concatenation chains), the
largest data size the budget admits, the bound's steps there, one whole evaluation's time
(measuring, handing the data over and evaluating; best of 3) and nanoseconds per step, and how
quickly the shape is refused at the issue's sizes (3,000 elements, 100 KB). The slowest
evaluation the budget admits must stay far below Temporal's 2-second deadlock detector.

Part 2, on one embedded Temporal dev server started as `ticketflow dev` does (bench/harness.py;
the same stack as bench/throughput.py: the Ticketflow API and worker as processes, a bare worker
process, CPU per process from /proc):

* Ticketflow: tickets of a definition of five `service` stages (`ticket.set_fields`, built in,
  so the real `ticketflow worker` runs them and the API's publish checks know them) in a row,
  the first with an exclusive gateway whose default (a human stage) is skipped, and a zero
  confirmation window, so the ticket closes by itself once resolved. Each is filed through the
  API (POST /tickets, as a requester would) and awaited to its closed workflow result with a
  Temporal client: filing through the API is the honest start for "ticket throughput" (the
  idempotency, definition lookup and creation projection are part of a ticket's cost).
* Bare: a workflow calling no-op activities in the order a ticket's history shows it calling
  activities (the service activities and the projection's local activities, read from the
  warm-up tickets' histories), started and awaited by a plain Temporal client.

Warm-up (Ticketflow, then bare; not counted), then R rounds alternating bare and Ticketflow.
Printed: tickets/s of both and their ratio, end-to-end p50/p95, activity calls, workflow tasks
and history events per ticket read from the histories, the API's create latency, CPU ms per
ticket of every process.

Then, on the same server, in the workflow or in a local activity: a workflow (on the bare
worker) that decides the 20-branch gateway D times, either in the workflow task or each time
in a local activity, against one that decides nothing; one at a time, alternating. Printed:
the cost per decision of each (wall and bare-worker CPU, over the no-decision workflow), and
which is cheaper.

Run from the repository root:

    .venv/bin/python bench/gateways.py [--samples N] [--tickets N] [--concurrency C]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from temporalio import activity, workflow

# This module's workflow runs in Temporal's sandbox on the bare worker; these are not
# re-imported there.
with workflow.unsafe.imports_passed_through():
    import harness
    from harness import Api, BarePlan, BenchError, Side

    from domain.definitions import Gateway, ProcessDefinition
    from domain.expression_cost import STEP_BUDGET
    from domain.expressions import ExpressionError, compile_expression, evaluate, steps
    from domain.process_paths import choose
    from domain.ticket import Actor, TicketState
    from ticketflow.devstack import Child

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


def time_calls(
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


def gateway_of(texts: list[str]) -> Gateway:
    """The inclusive 20-branch gateway over these conditions (default: assess)."""
    return Gateway.model_validate(
        {
            "type": "inclusive",
            "branches": [{"to": f"s{i}", "when": w} for i, w in enumerate(texts)],
            "default": "assess",
        }
    )


def condition_figures(samples: int) -> None:
    """Part 1: measure the in-process decision and print its table."""
    state = ticket()
    context = state.expression_context()
    gateway = gateway_of(conditions())
    checks = baseline_checks()
    expected = [b.to for b, check in zip(gateway.branches, checks, strict=True) if check(context)]
    assert choose(gateway, context).taken == expected, "CEL and Python disagree"

    baseline = time_calls(lambda: [check(context) for check in checks], samples)
    warm = time_calls(lambda: choose(gateway, context), samples)
    cold = time_calls(
        lambda: choose(gateway, context), max(samples // 10, 50), compile_expression.cache_clear
    )
    building = time_calls(state.expression_context, samples)

    rows = [
        ("baseline (Python lambdas)", baseline),
        ("warm (compiled CEL)", warm),
        ("cold (compile + evaluate)", cold),
        ("expression context", building),
    ]
    print(f"20-branch inclusive gateway, {samples} samples (cold: {len(cold)})")
    for name, values in rows:
        p50, p99 = percentiles(values)
        print(f"  {name:28} p50 {p50:9.1f} us   p99 {p99:9.1f} us")
    base50 = percentiles(baseline)[0]
    print(f"  warm / baseline p50: {percentiles(warm)[0] / base50:.1f}x")
    print(f"  cold / baseline p50: {percentiles(cold)[0] / base50:.1f}x")


# -- bounded cost: the slowest shapes at the step budget ----------------------------------------

# Shapes that take seconds unbounded, each as a text and its data at a size `n` (conditions that
# never hold, so no comprehension stops early). The issue's sizes are 3,000 elements and 100 KB;
# 500 rows of 500 cells are about the API's 1 MB body limit.
SLOW_SHAPES: list[tuple[str, str, Callable[[int], dict[str, Any]]]] = [
    (
        "nested exists over n numbers",
        "intake.l.exists(x, intake.l.exists(y, x == y + 1000000))",
        lambda n: {"l": list(range(n))},
    ),
    ("map over n numbers", "intake.l.map(x, x + 1).size() > 0", lambda n: {"l": list(range(n))}),
    (
        "filter over n numbers",
        "intake.l.filter(x, x > 1).size() > 0",
        lambda n: {"l": list(range(n))},
    ),
    (
        "nested map over n numbers",
        "intake.l.map(x, intake.l.map(y, x + y)).size() > 0",
        lambda n: {"l": list(range(n))},
    ),
    (
        "map copying a 10 KB text n times",
        "intake.l.map(x, intake.s + 'a').size() > 0",
        lambda n: {"l": list(range(n)), "s": "x" * 10_000},
    ),
    (
        "150 concatenations of an n-byte text",
        " + ".join(["intake.s"] * 150) + " == ''",
        lambda n: {"s": "x" * n},
    ),
    (
        "n rows of n cells, nested exists",
        "intake.rows.exists(r, r.cells.exists(c, c == 'y'))",
        lambda n: {"rows": [{"cells": ["x"] * n}] * n},
    ),
    ("a regular expression over n bytes", "intake.s.matches('^(a|x)+$')", lambda n: {"s": "x" * n}),
]
ISSUE_SIZES = {
    "n rows of n cells, nested exists": 500,
    "150 concatenations of an n-byte text": 100_000,
    "a regular expression over n bytes": 100_000,
}


def largest_fitting(source: str, data: Callable[[int], dict[str, Any]]) -> int:
    """The largest size whose bound fits the budget (the bound grows with the size)."""
    low, high = 1, 1
    while steps(source, {"intake": data(high)})[1] <= STEP_BUDGET:
        low, high = high, high * 2
    while high - low > 1:
        middle = (low + high) // 2
        fits = steps(source, {"intake": data(middle)})[1] <= STEP_BUDGET
        low, high = (middle, high) if fits else (low, middle)
    return low


def bounded_cost_figures() -> None:
    """Part 1b: each slow shape at the largest size the budget admits, and its refusal."""
    print()
    print(f"Bounded cost: one decision may take {STEP_BUDGET:,} steps")
    print(
        f"  {'shape':38} {'largest n':>10} {'steps':>11} {'eval ms':>8} {'ns/step':>8}"
        f" {'at the issue size':>20}"
    )
    slowest = 0.0
    for name, source, data in SLOW_SHAPES:
        n = largest_fitting(source, data)
        context = {"intake": data(n)}
        needed = steps(source, context)[1]
        # The whole evaluation: measuring, handing the data over, evaluating.
        best = min(time_calls(partial(evaluate, source, context), 3))
        slowest = max(slowest, best)
        big = {"intake": data(ISSUE_SIZES.get(name, 3000))}
        start = time.perf_counter()
        try:
            evaluate(source, big)
            refusal = "fits"
        except ExpressionError:
            refusal = f"refused in {(time.perf_counter() - start) * 1000:.1f} ms"
        print(
            f"  {name:38} {n:>10,} {needed:>11,} {best * 1000:>8.1f} {best * 1e9 / needed:>8.1f}"
            f" {refusal:>20}"
        )
    print(f"  slowest evaluation within the budget: {slowest * 1000:.1f} ms")


# -- in the workflow or in a local activity ---------------------------------------------------


@dataclass
class DecideInput:
    """One decision: the branch conditions and the expression context."""

    conditions: list[str]
    context: dict[str, Any]


@dataclass
class DecidePlan:
    """How many times to decide, and where: "none", "workflow" or "local"."""

    decisions: int
    where: str
    decide: DecideInput


@activity.defn(name="bench_decide")
async def decide(call: DecideInput) -> list[str]:
    """Decide the gateway in a local activity, as the workflow would hand it over."""
    return choose(gateway_of(call.conditions), call.context).taken


@workflow.defn(name="BenchDecideWorkflow")
class DecideWorkflow:
    """A workflow that decides the 20-branch gateway a number of times."""

    @workflow.run
    async def run(self, plan: DecidePlan) -> int:
        """Decide `plan.decisions` times where the plan says; the number of branches taken."""
        taken = 0
        if plan.where == "none":
            return taken
        gateway = gateway_of(plan.decide.conditions)
        for _ in range(plan.decisions):
            if plan.where == "local":
                chosen = await workflow.execute_local_activity(
                    decide, plan.decide, start_to_close_timeout=harness.ACTIVITY_TIMEOUT
                )
            else:
                chosen = choose(gateway, plan.decide.context).taken
            taken += len(chosen)
        return taken


WHERE = ("none", "workflow", "local")


async def decision_costs(
    client: Any, children: dict[str, Child], decisions: int, runs: int
) -> dict[str, tuple[list[float], float]]:
    """Per place: the wall seconds of each workflow run, and the bare worker's CPU seconds."""
    call = DecideInput(conditions=conditions(), context=ticket().expression_context())
    found: dict[str, tuple[list[float], float]] = {where: ([], 0.0) for where in WHERE}
    # One at a time, the three alternating, so a drift in the machine's load hits each alike;
    # the first round (each sandbox's first run, compiling the conditions) is not counted.
    for index in range(runs + 1):
        for where in WHERE:
            plan = DecidePlan(decisions=decisions, where=where, decide=call)
            before = harness.cpu_snapshot(children)[harness.BARE_WORKER]
            start = time.perf_counter()
            await harness.guarded(
                children,
                client.execute_workflow(
                    DecideWorkflow.run,
                    plan,
                    id=f"decide-{where}-{index}",
                    task_queue=harness.BARE_QUEUE,
                ),
            )
            wall = time.perf_counter() - start
            after = harness.cpu_snapshot(children)[harness.BARE_WORKER]
            if index > 0:
                walls, cpu = found[where]
                found[where] = ([*walls, wall], cpu + after - before)
    return found


# -- five automated stages against bare Temporal ----------------------------------------------

DEFINITION_KEY = "bench-five-services"
DEPARTMENT = "bench-desk"
SERVICES = ("s1", "s2", "s3", "s4", "s5")
OWNER, REQUESTER = "owner", "rita"
USERS = {OWNER: ("process-office", "process_owner"), REQUESTER: ("sales", "requester")}


def service_stage(key: str, after: str | None) -> dict[str, Any]:
    """A `ticket.set_fields` stage computing one field from the intake."""
    stage: dict[str, Any] = {
        "key": key,
        "title": f"Stage {key}",
        "group": DEPARTMENT,
        "kind": "service",
        "service": {
            "action": "ticket.set_fields",
            "params": {"fields": {f"step_{key}": "=intake.severity + 1"}},
        },
    }
    if after is not None:
        stage["depends_on"] = [after]
    return stage


def definition() -> dict[str, Any]:
    """Five service stages in a row; s1's exclusive gateway leads on to s2, past `review`."""
    # s2 is entered through s1's gateway, not depends_on.
    after = {"s3": "s2", "s4": "s3", "s5": "s4"}
    stages = [service_stage(key, after.get(key)) for key in SERVICES]
    stages[0]["gateway"] = {
        "type": "exclusive",
        "branches": [{"to": "s2", "when": "fields.step_s1 > 1"}],
        "default": "review",
    }
    stages.append({"key": "review", "title": "Review", "group": DEPARTMENT})
    return {
        "key": DEFINITION_KEY,
        "title": "Gateway bench: five service stages",
        "key_prefix": "GW",
        "department": DEPARTMENT,
        "intake_form": {
            "type": "object",
            "required": ["severity"],
            "properties": {"severity": {"type": "integer"}},
        },
        "stages": stages,
        # Zero: the ticket closes itself once resolved, so no person is in the loop.
        "confirmation": {"timeout_hours": 0},
    }


async def drive_ticket(
    api: Api, client: Any, latencies: dict[str, list[float]], index: int
) -> tuple[float, str]:
    """File a ticket through the API and await its workflow's end; (seconds, ticket key)."""
    start = time.perf_counter()
    created = await api.post(
        latencies,
        "create",
        REQUESTER,
        "/tickets",
        {"definition": DEFINITION_KEY, "data": {"severity": 2}},
    )
    key = created["key"]
    result = await client.get_workflow_handle(key).result()
    if result["status"] != "closed":
        raise BenchError(f"ticket {key} ended {result['status']}, not closed")
    return time.perf_counter() - start, key


@dataclass
class Report:
    """Everything part 2 prints."""

    sides: dict[str, Side]
    histories: dict[str, harness.Histories]
    decisions: dict[str, tuple[list[float], float]]
    load_before: tuple[float, float, float]


async def run_bench(args: argparse.Namespace, workdir: Path, children: dict[str, Child]) -> Report:
    """Start the stack, warm up, alternate the rounds, read the histories, time the decisions."""
    load_before = os.getloadavg()
    worker = [sys.executable, __file__, "--serve-worker"]
    stack = await harness.start_stack(workdir, children, USERS, worker)
    client = stack.client
    async with harness.api_client(stack, args.concurrency) as http:
        await harness.wait_for_api(http, children)
        api = Api(http=http, tokens=stack.tokens)
        await api.post({}, "publish", OWNER, "/definitions", definition())

        note = harness.note
        note(f"warm-up: {args.warmup} Ticketflow tickets, then {args.warmup} bare workflows")
        one_ticket = partial(drive_ticket, api, client)
        warm = await harness.guarded(
            children, harness.in_lanes(args.warmup, args.concurrency, partial(one_ticket, {}))
        )
        seen = await harness.read_histories(client, [k for _s, k in warm], args.concurrency)
        if len(seen.activity_calls) != 1 or len(seen.local_calls) != 1:
            raise BenchError(
                f"warm-up tickets made different activity calls: {seen.activity_calls} "
                f"({seen.local_calls} local)"
            )
        plan = BarePlan(steps=seen.sequences[0])
        note(
            f"a ticket calls {len(plan.steps)} activities, {sum(plan.steps)} of them local; "
            "the bare workflow makes the same calls in the same order"
        )
        await harness.guarded(
            children,
            harness.in_lanes(
                args.warmup, args.concurrency, partial(harness.drive_bare, client, plan, "w")
            ),
        )

        sides = {"bare": Side(), "ticketflow": Side()}
        for number, size in enumerate(harness.round_sizes(args.tickets, args.rounds), start=1):
            for name, one in (
                ("bare", partial(harness.drive_bare, client, plan, f"r{number}")),
                ("ticketflow", partial(one_ticket, sides["ticketflow"].requests)),
            ):
                side = sides[name]
                await harness.measure(side, children, size, args.concurrency, one)
                rate = side.round_rates[-1]
                note(f"round {number}/{args.rounds}: {name}, {size} tickets, {rate:.2f}/s")

    note("reading the history of every measured workflow")
    histories = {
        name: await harness.read_histories(client, side.ids, args.concurrency)
        for name, side in sides.items()
    }
    note(
        f"deciding the gateway {args.decisions} times per workflow, {args.decision_runs} runs each"
    )
    decisions = await decision_costs(client, children, args.decisions, args.decision_runs)
    return Report(sides=sides, histories=histories, decisions=decisions, load_before=load_before)


def print_report(args: argparse.Namespace, report: Report) -> None:
    """Print part 2 as a plain-text table, then the decision costs."""
    bare, tickets = report.sides["bare"], report.sides["ticketflow"]
    pct = harness.percentile
    load = ", ".join(f"{x:.2f}" for x in report.load_before)
    rows: list[tuple[str, str, str]] = [
        ("tickets/s", f"{bare.rate:.2f}", f"{tickets.rate:.2f}"),
        (
            "  per round",
            " ".join(f"{r:.2f}" for r in bare.round_rates),
            " ".join(f"{r:.2f}" for r in tickets.round_rates),
        ),
        (
            "end-to-end p50 / p95 (ms)",
            harness.p50_p95(bare.end_to_end),
            harness.p50_p95(tickets.end_to_end),
        ),
    ]
    rows += harness.history_rows(report.histories["bare"], report.histories["ticketflow"])
    rows.append(("create p50 / p95 (ms)", "-", harness.p50_p95(tickets.requests["create"])))
    rows.append(("CPU ms per ticket:", "", ""))
    for name in harness.PROCESSES:
        rows.append((f"  {name}", bare.cpu_ms(name), tickets.cpu_ms(name)))
    rows.append(("  cores busy (CPU s / wall s)", bare.cores_busy, tickets.cores_busy))

    print()
    print(f"Five automated stages against bare Temporal, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print(
        f"machine: {os.cpu_count()} cores ({len(os.sched_getaffinity(0))} usable), "
        f"{platform.machine()}, load average before the run {load}; "
        f"Python {platform.python_version()}"
    )
    print(
        f"arguments: --tickets {args.tickets} --concurrency {args.concurrency} "
        f"--rounds {args.rounds} --warmup {args.warmup}"
    )
    print(
        "Ticketflow: POST /tickets, then the workflow's result awaited with a Temporal client; "
        "five ticket.set_fields stages, one exclusive gateway, a skipped human stage"
    )
    print()
    harness.print_table(rows)
    print()
    print(f"throughput ratio Ticketflow / bare: {tickets.rate / bare.rate:.2f}")

    none_walls, none_cpu = report.decisions["none"]
    base = pct(none_walls, 50)
    print()
    print(
        f"Deciding the 20-branch gateway: {args.decisions} decisions per workflow, "
        f"{args.decision_runs} workflows per place, one at a time, on the bare worker"
    )
    print(f"  no decisions: workflow end-to-end p50 {base * 1000:.1f} ms")
    wall: dict[str, float] = {}
    cpu: dict[str, float] = {}
    for where, label in (("workflow", "in the workflow"), ("local", "in a local activity")):
        walls, used = report.decisions[where]
        wall[where] = (pct(walls, 50) - base) / args.decisions
        cpu[where] = (used - none_cpu) / (args.decisions * args.decision_runs)
        print(
            f"  {label:20} workflow p50 {pct(walls, 50) * 1000:7.1f} ms; per decision: "
            f"wall {wall[where] * 1e6:6.0f} us, bare-worker CPU {cpu[where] * 1e6:6.0f} us"
        )
    # CPU is read in clock ticks and a workflow's wall time jitters by milliseconds: the
    # verdict needs both figures to agree, and says so when they do not.
    if wall["workflow"] < wall["local"] and cpu["workflow"] < cpu["local"]:
        verdict = "in the workflow"
    elif wall["workflow"] > wall["local"] and cpu["workflow"] > cpu["local"]:
        verdict = "in a local activity"
    else:
        verdict = "neither clearly (wall and CPU disagree)"
    print(f"  cheaper: {verdict}")
    print(
        f"  a local activity's extra cost per decision: wall "
        f"{(wall['local'] - wall['workflow']) * 1e6:.0f} us, "
        f"CPU {(cpu['local'] - cpu['workflow']) * 1e6:.0f} us"
    )


# -- entry point ------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=2000, help="in-process decisions")
    parser.add_argument("--tickets", type=int, default=200, help="measured tickets per side")
    parser.add_argument("--concurrency", type=int, default=16, help="tickets in flight")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds per side")
    parser.add_argument("--warmup", type=int, default=10, help="uncounted tickets per side")
    parser.add_argument("--decisions", type=int, default=100, help="decisions per workflow")
    parser.add_argument("--decision-runs", type=int, default=30, help="workflows per place")
    parser.add_argument("--serve-worker", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    counts = (args.samples, args.tickets, args.concurrency, args.rounds, args.warmup)
    if min(*counts, args.decisions, args.decision_runs) < 1:
        parser.error("every count must be at least 1")
    if args.tickets < args.rounds:
        parser.error("--tickets must be at least --rounds")
    return args


def main() -> None:
    """Measure and print (or, internally, serve the bare worker)."""
    args = parse_args()
    if args.serve_worker:
        harness.serve_worker(
            *args.serve_worker,
            [harness.BareWorkflow, DecideWorkflow],
            [harness.noop, decide],
        )
        harness.exit_now(0)
    condition_figures(args.samples)
    bounded_cost_figures()
    sys.stdout.flush()
    harness.exit_now(
        harness.run_stack(
            lambda workdir, children: run_bench(args, workdir, children),
            lambda report: print_report(args, report),
        )
    )


if __name__ == "__main__":
    main()
