"""Field-level redaction cost: a 50-field ticket for a user with 1,000 policies in force.

One run measures, per ticket, two paths over the same ticket document:

* unredacted (baseline): the ticket detail encoded for the response (`jsonable_encoder`), as
  the API did before field-level access;
* redacted: the caller's cached view looked up (subject, ticket domains, definition), the one
  redaction function applied, the field-use counter ticked, and the result encoded.

Samples of the two paths alternate, so both see the same machine state. Printed: median and
p99 per ticket of both, the added median and p99, and their ratio. Also printed, for what the
cache saves: the cold decision (the 1,000 rules reduced to those that apply to the subject in
the ticket's domains, on the first ticket after a policy change) and the naive alternative,
`Enforcer.enforce` once per field and action.

The policy: 1,000 p rules. 250 belong to roles the user holds (directly, through a
three-level role chain, and in the user's home department via "{home}/*"), with keyMatch
wildcards, field-specific grants and denies across sites; 750 belong to other roles.

Run from the repository root:

    .venv/bin/python bench/field_access.py [--samples N]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fastapi.encoders import jsonable_encoder

from policies.access import AccessControl, ticket_domains
from policies.catalog import catalog_from_document
from policies.decisions import Subject, decide
from policies.enforcer import SENSITIVITY, file_enforcer
from policies.redaction import TICKET_SHAPE, redact

FIELDS = 50
RULES = 1000
USER_RULES = 250


def _definition() -> dict[str, Any]:
    rng = random.Random(1)
    properties = {
        f"f{i:02d}": {
            "type": "string",
            "x-sensitivity": rng.choice(SENSITIVITY),
            "x-maskable": i % 5 == 0,
        }
        for i in range(FIELDS)
    }
    return {"key": "bench", "version": 1, "intake_form": {"properties": properties}, "stages": []}


def _policy_lines() -> list[str]:
    rng = random.Random(2)
    lines = [
        "g, user:ana, role:analyst, *",
        "g, role:analyst, role:reviewer, *",
        "g, role:reviewer, role:viewer, *",
        "p, role:viewer, {home}/*, ticket.*, read, internal, allow",
        "p, role:analyst, {home}/*, ticket.*, read_masked, restricted, allow",
    ]
    own_roles = ["role:analyst", "role:reviewer", "role:viewer", "role:agent"]
    other_roles = [f"role:role{i}" for i in range(60)]
    sites = ["*", "plant-a", "plant-b", "plant-c"]
    while len(lines) < 3 + RULES:  # three g lines, then RULES p lines
        own = len(lines) < 3 + USER_RULES
        subject = rng.choice(own_roles if own else other_roles)
        department = rng.choice(["{home}", "ops", "it", "hr", "*"])
        field = rng.choice(["*", *[f"f{i:02d}" for i in range(FIELDS)], "f1*", "f2*"])
        action = rng.choice(["read", "write", "read_masked", "*"])
        clearance = rng.choice(SENSITIVITY)
        effect = "deny" if rng.random() < 0.1 else "allow"
        lines.append(
            f"p, {subject}, {department}/{rng.choice(sites)}, ticket.{field}, {action}, "
            f"{clearance}, {effect}"
        )
    return lines


def _ticket() -> dict[str, Any]:
    now = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
    return {
        "key": "BENCH-000001",
        "definition_key": "bench",
        "definition_version": 1,
        "department": "ops",
        "title": "Pump 7 vibrates",
        "status": "open",
        "requester": "rita",
        "created_at": now,
        "updated_at": now,
        "resolved_at": None,
        "closed_at": None,
        "last_seq": 4,
        "intake": {f"f{i:02d}": f"value-{i:02d}-13812345678" for i in range(FIELDS)},
        "tasks": [
            {
                "id": f"BENCH-000001:s{i}:1",
                "ticket_key": "BENCH-000001",
                "stage_key": f"s{i}",
                "title": "Stage",
                "group": "ops",
                "status": "open",
                "assignee": None,
                "round": 1,
                "opened_at": now,
                "claimed_at": None,
                "completed_at": None,
                "completed_by": None,
                "data": {},
            }
            for i in range(3)
        ],
    }


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    """Run the measurement and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=20_000)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        policy = Path(tmp) / "policy.csv"
        policy.write_text("\n".join(_policy_lines()) + "\n")
        enforcer = file_enforcer(policy)
    access = AccessControl()
    access.install(enforcer, version=1)
    catalog = catalog_from_document(_definition())
    ticket = _ticket()
    subject = Subject(user="ana", role="agent", home="ops", owner=False)
    domains = ticket_domains("ops", {"site": "plant-a"}, ["it"])

    # Cold: the decision after a policy change, and the per-field enforce alternative.
    cold = []
    for _ in range(20):
        start = time.perf_counter()
        view = AccessControl.view(access, subject, domains, catalog)
        redact(ticket, view, TICKET_SHAPE)
        cold.append(time.perf_counter() - start)
        access.install(enforcer, version=access.version + 1)
    per_call = []
    request = subject.principals
    for name in list(catalog.fields)[:10]:
        sensitivity = catalog.spec(name).sensitivity
        start = time.perf_counter()
        enforcer.enforce(*request, domains[0], f"ticket.{name}", "read", sensitivity)
        per_call.append(time.perf_counter() - start)
    decide_times = []
    for _ in range(20):
        start = time.perf_counter()
        decide(enforcer, access.rules, subject, domains[0])
        decide_times.append(time.perf_counter() - start)

    view = access.view(subject, domains, catalog)
    shown = redact(ticket, view, TICKET_SHAPE)
    plain_times: list[float] = []
    redacted_times: list[float] = []
    for _ in range(args.samples):
        start = time.perf_counter()
        jsonable_encoder(ticket)
        plain_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        view = access.view(subject, domains, catalog)
        out = redact(ticket, view, TICKET_SHAPE)
        access.usage.read(view)
        jsonable_encoder(out)
        redacted_times.append(time.perf_counter() - start)

    us = 1e6
    plain_med, red_med = statistics.median(plain_times), statistics.median(redacted_times)
    plain_p99, red_p99 = _percentile(plain_times, 0.99), _percentile(redacted_times, 0.99)
    print(f"policy: {len(access.rules)} p rules, {len(enforcer.get_grouping_policy())} role links")
    print(
        f"ticket: {FIELDS} intake fields + system fields + 3 tasks; domains {list(domains)}; "
        f"caller sees {len(shown['intake'])} intake fields "
        f"({sum(1 for v in shown['intake'].values() if '*' in str(v))} masked)"
    )
    print(f"samples: {args.samples} per path, alternating")
    print(f"unredacted  median {plain_med * us:8.1f} us   p99 {plain_p99 * us:8.1f} us")
    print(f"redacted    median {red_med * us:8.1f} us   p99 {red_p99 * us:8.1f} us")
    print(
        f"added       median {(red_med - plain_med) * us:8.1f} us   "
        f"p99 {(red_p99 - plain_p99) * us:8.1f} us"
    )
    ratio_med, ratio_p99 = red_med / plain_med, red_p99 / plain_p99
    print(f"ratio redacted/unredacted: median {ratio_med:.2f}x, p99 {ratio_p99:.2f}x")
    print(
        f"cold (first ticket after a policy change, {len(domains)} domains): "
        f"median {statistics.median(cold) * 1e3:.2f} ms; "
        f"decide() per domain median {statistics.median(decide_times) * 1e3:.2f} ms"
    )
    enforce_med = statistics.median(per_call)
    calls = 2 * len(catalog.fields) * len(domains)
    print(
        f"naive Enforcer.enforce: {enforce_med * 1e3:.2f} ms per call; a ticket needs "
        f"{len(catalog.fields) - FIELDS} system + {FIELDS} form fields x 2 actions "
        f"x {len(domains)} domains = {calls} calls = {enforce_med * calls * 1e3:.0f} ms"
    )


if __name__ == "__main__":
    main()
