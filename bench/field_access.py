"""Field-level redaction cost: a 50-field ticket for a user with 1,000 policies in force.

One run measures, per ticket, two paths over the same ticket document:

* unredacted (baseline): the ticket detail encoded for the response (`jsonable_encoder`), as
  the API did before field-level access;
* redacted: the caller's cached view looked up (subject, ticket domains, definition), the one
  redaction function applied, the field-use counter ticked, and the result encoded.

Samples of the two paths alternate, so both see the same machine state. Printed: median and
p99 per ticket of both, the median and p99 of what redaction added to each pair of samples,
and their ratio. Also printed, for what the cache saves: the cold decision (the 1,000 rules
reduced to those that apply to the subject in the ticket's domains, on the first ticket after a
policy change) and the naive alternative, `Enforcer.enforce` once per field and action.

Then the same two paths for a ticket whose 50 fields are partly nested (40 top-level, 10 inside
two objects and an array of objects, each checked by its own path), and for its timeline of 30
events of every kind, each redacted by its declared shape (`redact_events`).

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
from policies.event_shapes import redact_events
from policies.redaction import TICKET_SHAPE, FieldView, redact

FIELDS = 50
RULES = 1000
USER_RULES = 250
# The nested ticket: the last 10 of its 50 fields are inside objects and an array of objects.
FLAT = 40
NESTED = {"o0": range(40, 43), "o1": range(43, 46)}
ARRAY = ("arr", range(46, 50))


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


def _nested_definition() -> dict[str, Any]:
    rng = random.Random(1)

    def leaf(i: int) -> dict[str, Any]:
        sensitivity = rng.choice(SENSITIVITY)
        return {"type": "string", "x-sensitivity": sensitivity, "x-maskable": i % 5 == 0}

    properties: dict[str, Any] = {f"f{i:02d}": leaf(i) for i in range(FLAT)}
    for name, indexes in NESTED.items():
        children = {f"f{i:02d}": leaf(i) for i in indexes}
        properties[name] = {"type": "object", "x-sensitivity": "public", "properties": children}
    name, indexes = ARRAY
    item = {"type": "object", "properties": {f"f{i:02d}": leaf(i) for i in indexes}}
    properties[name] = {"type": "array", "items": item}
    return {"key": "nested", "version": 1, "intake_form": {"properties": properties}, "stages": []}


def _policy_lines(nested: bool = False) -> list[str]:
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
        fields = ["*", *[f"f{i:02d}" for i in range(FIELDS)], "f1*", "f2*"]
        if nested:
            fields += ["o0", "o0.*", "o1.f44", "arr", "arr[].*", "arr[].f47"]
        field = rng.choice(fields)
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


def _nested_ticket() -> dict[str, Any]:
    ticket = _ticket()
    intake: dict[str, Any] = {f"f{i:02d}": f"value-{i:02d}-13812345678" for i in range(FLAT)}
    for name, indexes in NESTED.items():
        intake[name] = {f"f{i:02d}": f"value-{i:02d}-13812345678" for i in indexes}
    name, indexes = ARRAY
    intake[name] = [{f"f{i:02d}": f"item-{i:02d}-13812345678" for i in indexes} for _ in range(2)]
    return {**ticket, "definition_key": "nested", "intake": intake}


def _timeline(intake: dict[str, Any]) -> list[dict[str, Any]]:
    """30 events of a ticket's life, with its form data in the completions."""
    at = "2026-11-25T10:00:00+00:00"
    task = {"task": "BENCH-000001:s0:1", "stage": "s0", "group": "ops", "assignee": "ana"}
    sla = {"clock": "ticket", "stage": None, "round": 1}
    kinds: list[tuple[str, str, dict[str, Any]]] = [
        ("created", "rita", {"definition": "nested@1", "title": "Pump 7 vibrates"}),
        ("sla_started", "sla", {**sla, "target": 14400.0, "due_at": at}),
        (
            "triaged",
            "triage",
            {
                "ticket": {
                    "key": "BENCH-000001",
                    "title": "Pump 7 vibrates",
                    "description": "value-description",
                    "fields": {"error_code": "E-13", "department": "ops"},
                    "numbers": {"temperature_c": 71.5},
                },
                "result": {
                    "model_version": 3,
                    "team": "ops",
                    "confidence": 0.8,
                    "top_features": [{"feature": "word:pump", "weight": 0.4}],
                },
                "threshold": 0.6,
                "routed": True,
                "team": "ops",
            },
        ),
    ]
    for i in range(3):
        kinds += [
            ("task_opened", "system", task),
            ("task_claimed", "ana", task),
            ("comment_added", "ana", {"body": f"note {i}", "internal": i % 2 == 0}),
            ("task_completed", "ana", {**task, "form": intake}),
        ]
    kinds += [
        ("priority_changed", "ana", {"from": "P3", "to": "P2", "reason": "customer down"}),
        ("sla_retargeted", "sla", {**sla, "priority": "P2", "target": 7200.0, "due_at": at}),
        ("waiting_started", "ana", {"reason": "customer", "note": "logs"}),
        ("sla_paused", "sla", {**sla, "reason": "customer"}),
        ("waiting_ended", "rita", {"reason": "customer", "note": "sent"}),
        ("sla_resumed", "sla", {**sla, "due_at": at}),
        ("task_reassigned", "ana", {**task, "reason": "shift", "before": {"group": "ops"}}),
        ("external_event", "monitor", {"name": "crm_update", "payload": {"x": 1}}),
        ("comment_added", "rita", {"body": "thanks", "internal": False}),
        ("sla_rung_fired", "sla", {**sla, "rung": 0, "name": "half", "actions": ["notify"]}),
        ("resolved", "system", {"confirm_by": at}),
        ("sla_stopped", "sla", {**sla, "outcome": "met", "elapsed": 3600.0, "paused": 60.0}),
        ("closed", "rita", {"by": "requester", "comment": "ok"}),
        ("unknown_kind", "x", {"anything": 1}),
        ("duplicate_reported", "sam", {"requester": "sam", "description": "same pump"}),
    ]
    return [
        {"seq": n, "type": t, "at": at, "actor": actor, "data": data}
        for n, (t, actor, data) in enumerate(kinds, start=1)
    ]


def _paths(samples: int, plain: Any, redacted: Any) -> tuple[list[float], list[float]]:
    plain_times: list[float] = []
    redacted_times: list[float] = []
    for _ in range(samples):
        start = time.perf_counter()
        plain()
        plain_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        redacted()
        redacted_times.append(time.perf_counter() - start)
    return plain_times, redacted_times


def _added_by_pair(plain_times: list[float], redacted_times: list[float]) -> tuple[float, float]:
    """Median and p99 of what redaction added to each pair of alternating samples.

    The difference of the two p99s is not the p99 of what was added (the slowest samples of
    each path need not be paired), and can even come out negative.
    """
    added = [r - p for p, r in zip(plain_times, redacted_times, strict=True)]
    return statistics.median(added), _percentile(added, 0.99)


def _added(label: str, plain_times: list[float], redacted_times: list[float]) -> None:
    us = 1e6
    plain_med, red_med = statistics.median(plain_times), statistics.median(redacted_times)
    added_med, added_p99 = (value * us for value in _added_by_pair(plain_times, redacted_times))
    print(
        f"{label:<30} unredacted median {plain_med * us:7.1f} us, redacted {red_med * us:7.1f} us"
        f", added median {added_med:7.1f} us, p99 {added_p99:7.1f} us"
    )


def _nested(samples: int, tmp: Path) -> None:
    """The nested ticket and its typed timeline under the nested-field policy."""
    policy = tmp / "nested.csv"
    policy.write_text("\n".join(_policy_lines(nested=True)) + "\n")
    access = AccessControl()
    access.install(file_enforcer(policy), version=1)
    catalog = catalog_from_document(_nested_definition())
    ticket = _nested_ticket()
    events = _timeline(ticket["intake"])
    subject = Subject(user="ana", role="agent", home="ops", owner=False)
    domains = ticket_domains("ops", {"site": "plant-a"}, ["it"])

    def view() -> FieldView:
        return access.view(subject, domains, catalog)

    shown = redact(ticket, view(), TICKET_SHAPE)
    timeline = redact_events(events, view())
    nested_shown = sum(1 for k in (*NESTED, ARRAY[0]) if k in shown["intake"])
    print(
        f"nested ticket: {FLAT} top-level + 10 nested fields (2 objects, an array of 2 objects); "
        f"caller sees {len(shown['intake'])} top-level keys ({nested_shown} of the 3 containers)"
    )
    print(
        f"timeline: {len(events)} events, {len(timeline)} shown to the caller, "
        f"{sum(1 for e in timeline if 'data' not in e)} reduced to seq/type/at"
    )

    def detail() -> None:
        v = view()
        out = redact(ticket, v, TICKET_SHAPE)
        access.usage.read(v)
        jsonable_encoder(out)

    def redacted_events() -> None:
        jsonable_encoder(redact_events(events, view()))

    def both() -> None:
        detail()
        redacted_events()

    _added(
        "nested 50-field ticket detail", *_paths(samples, lambda: jsonable_encoder(ticket), detail)
    )
    _added(
        "timeline of 30 typed events",
        *_paths(samples, lambda: jsonable_encoder(events), redacted_events),
    )
    _added(
        "nested detail + timeline",
        *_paths(samples, lambda: jsonable_encoder([ticket, events]), both),
    )
    # The encoding of a redacted answer is cheaper (fewer fields): the redaction on its own.
    _, alone = _paths(
        samples // 4,
        lambda: None,
        lambda: (redact(ticket, view(), TICKET_SHAPE), redact_events(events, view())),
    )
    alone_med = statistics.median(alone) * 1e6
    print(f"redaction alone (detail + timeline, no encoding): median {alone_med:.1f} us")


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
        _flat(args.samples, enforcer)
        _nested(args.samples, Path(tmp))


def _flat(samples: int, enforcer: Any) -> None:
    """The flat 50-field ticket: the figures the README reports."""
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
    for _ in range(samples):
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
    print(f"samples: {samples} per path, alternating")
    print(f"unredacted  median {plain_med * us:8.1f} us   p99 {plain_p99 * us:8.1f} us")
    print(f"redacted    median {red_med * us:8.1f} us   p99 {red_p99 * us:8.1f} us")
    added_med, added_p99 = _added_by_pair(plain_times, redacted_times)
    print(
        f"added (per pair of samples) median {added_med * us:8.1f} us   "
        f"p99 {added_p99 * us:8.1f} us"
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
