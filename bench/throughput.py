"""Ticket throughput of Ticketflow against a bare Temporal workflow, on one dev server.

One run starts one embedded Temporal dev server the way `ticketflow dev` does (the `temporal`
binary next to this Python, its state in a SQLite file in a temp dir, WAL, synchronous=normal)
and measures two sides on it:

* Ticketflow: N tickets of a two-stage definition (stage a, then stage b, both for one
  department, no required form fields, a 24 h confirmation window) driven to closed through
  the real HTTP API: the API runs as a uvicorn process (`python -m ticketflow api`), the worker
  as another (`python -m ticketflow worker`), both on a migrated SQLite app database in the temp
  dir. Per ticket: POST /tickets (requester), claim + complete stage a, claim + complete stage b
  (agent), POST /tickets/{key}/confirm (requester), with C tickets in flight over httpx.
* Bare baseline: a workflow (bench/harness.py) that calls a no-op activity as many times as a
  ticket's life calls the projection activity (counted from the warm-up tickets' histories,
  ActivityTaskScheduled events), started by a plain Temporal client that waits for each result,
  C in flight. Its worker is a separate process too (this script with --serve-bare-worker).
* Bare Updates: a second baseline on the same bare worker, driven the way the API drives a
  ticket: started with an Update (update-with-start), then one Update per request of the
  ticket's life (claim, complete, claim, complete, confirm) from a plain Temporal client, each
  Update running as many no-op local activities as the ticket's matching Update records
  projections (counted from the warm-up histories). Its gap to Ticketflow is ours (HTTP,
  auth, policies, payloads, SQL); its gap to the first baseline is Temporal's cost of Updates.

The project's packages are byte-compiled first (bench/harness.py), as an install would, so a
machine with PYTHONDONTWRITEBYTECODE set does not make the sandbox compile workflow modules
from source for every run. Order: warm-up (Ticketflow, then both baselines; not counted), then
R rounds of bare, bare Updates and Ticketflow, N/R tickets each. Printed: tickets/s of all
three and Ticketflow's ratio to each, per-ticket end-to-end p50/p95, Ticketflow's per-request
latencies (create, claim, complete, confirm), what the histories show per ticket (activity
calls, workflow tasks, events, how long each activity ran), and the CPU time per ticket of
every process involved, read from /proc (Linux).

Run from the repository root:

    .venv/bin/python bench/throughput.py [--tickets N] [--concurrency C] [--rounds R]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from harness import (
    PROCESSES,
    Api,
    BarePlan,
    BareUpdateWorkflow,
    BareWorkflow,
    BenchError,
    Histories,
    Side,
    UpdatePlan,
    api_client,
    drive_bare,
    drive_bare_updates,
    exit_now,
    guarded,
    history_rows,
    in_lanes,
    measure,
    ms,
    noop,
    note,
    p50_p95,
    percentile,
    print_table,
    read_histories,
    round_sizes,
    run_stack,
    serve_worker,
    start_stack,
    wait_for_api,
)

from ticketflow.devstack import Child

DEFINITION_KEY = "bench-two-stage"
DEPARTMENT = "bench-desk"
STAGES = ("a", "b")
DEFINITION: dict[str, Any] = {
    "key": DEFINITION_KEY,
    "title": "Throughput bench: two stages",
    "key_prefix": "BENCH",
    "department": DEPARTMENT,
    "intake_form": {"type": "object", "properties": {"title": {"type": "string"}}},
    "stages": [
        {"key": "a", "title": "Stage a", "group": DEPARTMENT},
        {"key": "b", "title": "Stage b", "group": DEPARTMENT, "depends_on": ["a"]},
    ],
    # Far beyond the run, so the requester's confirmation is what closes every ticket.
    "confirmation": {"timeout_hours": 24},
}
OWNER, REQUESTER, AGENT = "owner", "rita", "dana"
USERS = {
    OWNER: ("process-office", "process_owner"),
    REQUESTER: ("sales", "requester"),
    AGENT: (DEPARTMENT, "agent"),
}
REQUEST_KINDS = ("create", "claim", "complete", "confirm")


@dataclass
class Report:
    """Everything the run prints."""

    sides: dict[str, Side]
    histories: dict[str, Histories]
    load_before: tuple[float, float, float]


# -- Ticketflow over HTTP ---------------------------------------------------------------------


async def drive_ticket(
    api: Api, latencies: dict[str, list[float]], index: int
) -> tuple[float, str]:
    """Create a ticket, claim and complete both stages, confirm; (seconds, ticket key)."""
    start = time.perf_counter()
    created = await api.post(
        latencies,
        "create",
        REQUESTER,
        "/tickets",
        {"definition": DEFINITION_KEY, "data": {"title": f"bench ticket {index}"}},
    )
    key = created["key"]
    for stage in STAGES:
        await api.post(latencies, "claim", AGENT, f"/tickets/{key}/tasks/{stage}/claim")
        await api.post(
            latencies, "complete", AGENT, f"/tickets/{key}/tasks/{stage}/complete", {"data": {}}
        )
    closed = await api.post(latencies, "confirm", REQUESTER, f"/tickets/{key}/confirm", {})
    if closed["status"] != "closed":
        raise BenchError(f"ticket {key} is {closed['status']} after confirm, not closed")
    return time.perf_counter() - start, key


# -- the run ---------------------------------------------------------------------------------


async def run_bench(args: argparse.Namespace, workdir: Path, children: dict[str, Child]) -> Report:
    """Start the stack, warm up, run the alternating rounds and read the histories."""
    load_before = os.getloadavg()
    stack = await start_stack(
        workdir, children, USERS, [sys.executable, __file__, "--serve-bare-worker"]
    )
    client = stack.client
    async with api_client(stack, args.concurrency) as http:
        await wait_for_api(http, children)
        api = Api(http=http, tokens=stack.tokens)
        await api.post({}, "publish", OWNER, "/definitions", DEFINITION)

        note(f"warm-up: {args.warmup} Ticketflow tickets, then {args.warmup} bare workflows")
        warm = await guarded(
            children, in_lanes(args.warmup, args.concurrency, partial(drive_ticket, api, {}))
        )
        warm_histories = await read_histories(client, [key for _s, key in warm], args.concurrency)
        calls = warm_histories.activity_calls
        if len(calls) != 1:
            raise BenchError(f"warm-up tickets made different numbers of activity calls: {calls}")
        (per_ticket,) = calls
        note(f"a ticket's life calls the projection activity {per_ticket} times")
        plan = BarePlan(steps=[args.bare_activities == "local"] * per_ticket)
        update_steps = {tuple(steps) for steps in warm_histories.update_steps}
        if len(update_steps) != 1:
            raise BenchError(f"warm-up tickets' Updates recorded differently: {update_steps}")
        updates = UpdatePlan(steps=list(next(iter(update_steps))))
        note(f"a ticket's Updates record {updates.steps} projections each")
        for drive in (
            partial(drive_bare, client, plan),
            partial(drive_bare_updates, client, updates),
        ):
            await guarded(children, in_lanes(args.warmup, args.concurrency, partial(drive, "w")))

        sides = {"bare": Side(), "bare updates": Side(), "ticketflow": Side()}
        sizes = round_sizes(args.tickets, args.rounds)
        for number, size in enumerate(sizes, start=1):
            rounds: tuple[tuple[str, Callable[[int], Awaitable[tuple[float, str]]]], ...] = (
                ("bare", partial(drive_bare, client, plan, f"r{number}")),
                ("bare updates", partial(drive_bare_updates, client, updates, f"r{number}")),
                ("ticketflow", partial(drive_ticket, api, sides["ticketflow"].requests)),
            )
            for name, one in rounds:
                side = sides[name]
                await measure(side, children, size, args.concurrency, one)
                rate = side.round_rates[-1]
                note(f"round {number}/{args.rounds}: {name}, {size} tickets, {rate:.2f}/s")

    note("reading the history of every measured workflow")
    histories = {
        name: await read_histories(client, side.ids, args.concurrency)
        for name, side in sides.items()
    }
    return Report(sides=sides, histories=histories, load_before=load_before)


# -- the report -------------------------------------------------------------------------------


def print_report(args: argparse.Namespace, report: Report) -> None:
    """Print the figures as a plain-text table."""
    names = ("bare", "bare updates", "ticketflow")
    sides = [report.sides[name] for name in names]
    bare, updates, tickets = sides
    cores = os.cpu_count()
    usable = len(os.sched_getaffinity(0))
    load = ", ".join(f"{x:.2f}" for x in report.load_before)
    rows: list[tuple[str, ...]] = [
        ("tickets/s", *(f"{side.rate:.2f}" for side in sides)),
        ("  per round", *(" ".join(f"{r:.2f}" for r in side.round_rates) for side in sides)),
        ("end-to-end p50 (ms)", *(ms(percentile(side.end_to_end, 50)) for side in sides)),
        ("end-to-end p95 (ms)", *(ms(percentile(side.end_to_end, 95)) for side in sides)),
    ]
    rows += history_rows(*(report.histories[name] for name in names))
    for kind in REQUEST_KINDS:
        rows.append((f"{kind} p50 / p95 (ms)", "-", "-", p50_p95(tickets.requests[kind])))
    rows.append(("CPU ms per ticket:", "", "", ""))
    for name in PROCESSES:
        rows.append((f"  {name}", *(side.cpu_ms(name) for side in sides)))
    rows.append(("  cores busy (CPU s / wall s)", *(side.cores_busy for side in sides)))

    print(f"Ticketflow throughput bench, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print(
        f"machine: {cores} cores ({usable} usable), {platform.machine()}, "
        f"load average before the run {load}; Python {platform.python_version()}"
    )
    print(
        f"arguments: --tickets {args.tickets} --concurrency {args.concurrency} "
        f"--rounds {args.rounds} --warmup {args.warmup} --bare-activities {args.bare_activities}"
    )
    print(
        "order: warm-up (Ticketflow, then bare, then bare Updates; not counted), then "
        f"{args.rounds} rounds of bare -> bare Updates -> Ticketflow"
    )
    print(
        "processes: one Temporal dev server (SQLite, WAL, synchronous=normal); Ticketflow API "
        "(uvicorn, 1 process) and worker as processes; bare worker (both baselines) as a "
        "process; drivers (httpx / Temporal client) in this process"
    )
    print()
    print_table(rows, headers=("bare Temporal", "bare Updates", "Ticketflow"))
    print()
    print(f"throughput ratio Ticketflow / bare: {tickets.rate / bare.rate:.2f}  (aim: >= 0.70)")
    print(f"throughput ratio Ticketflow / bare Updates: {tickets.rate / updates.rate:.2f}")
    print(f"throughput ratio bare Updates / bare: {updates.rate / bare.rate:.2f}")
    total = [sum(side.cpu.values()) / len(side.end_to_end) for side in sides]
    print(
        "CPU per ticket, all processes: "
        f"bare {ms(total[0])} ms, bare Updates {ms(total[1])} ms, Ticketflow {ms(total[2])} ms: "
        f"Temporal's Updates add {ms(total[1] - total[0])} ms, "
        f"Ticketflow adds {ms(total[2] - total[1])} ms"
    )


# -- entry point ------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tickets", type=int, default=200, help="measured tickets per side")
    parser.add_argument("--concurrency", type=int, default=16, help="tickets in flight")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds per side")
    parser.add_argument("--warmup", type=int, default=10, help="uncounted tickets per side")
    parser.add_argument(
        "--bare-activities",
        choices=["regular", "local"],
        default="regular",
        help="the kind of activity the bare baseline calls (Ticketflow projects with local ones)",
    )
    parser.add_argument("--serve-bare-worker", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if min(args.tickets, args.concurrency, args.rounds, args.warmup) < 1:
        parser.error("every count must be at least 1")
    if args.tickets < args.rounds:
        parser.error("--tickets must be at least --rounds")
    return args


def main() -> None:
    """Run the bench (or, internally, the baseline's worker) and leave through os._exit."""
    args = parse_args()
    if args.serve_bare_worker:
        serve_worker(*args.serve_bare_worker, [BareWorkflow, BareUpdateWorkflow], [noop])
        exit_now(0)
    exit_now(
        run_stack(
            lambda workdir, children: run_bench(args, workdir, children),
            lambda report: print_report(args, report),
        )
    )


if __name__ == "__main__":
    main()
