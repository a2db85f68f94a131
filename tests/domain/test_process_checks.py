"""The pure publish checks of the process language: one failing definition per problem."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from domain.actions import BUILTIN_ACTIONS, ActionSpec
from domain.definitions import ProcessDefinition, structural_problems
from domain.problems import Problem
from domain.process_checks import PublishRules, process_problems, url_problem
from services.bundled import bundled_definitions, bundled_http_hosts

RULES = PublishRules(http_allowed_hosts=("crm.test",))

# One definition using every kind, gateway, edge type and context name correctly.
VALID: dict[str, Any] = {
    "key": "repair",
    "title": "Repair",
    "key_prefix": "RP",
    "department": "maintenance",
    "intake_form": {
        "type": "object",
        "properties": {
            "severity": {"type": "string"},
            "visit_at": {"type": "string"},
            "items": {"type": "array"},
            "asset": {"type": "object", "properties": {"tag": {"type": "string"}}},
        },
    },
    "stages": [
        {
            "key": "inspect",
            "title": "Inspect",
            "group": "maintenance",
            "form": {"type": "object", "properties": {"cost": {"type": "number"}}},
            "gateway": {
                "type": "exclusive",
                "branches": [
                    {"to": "approve", "when": "intake.severity == 'critical'"},
                    {"to": "approve", "when": "stages.inspect.data.cost > 1000.0"},
                ],
                "default": "order",
            },
        },
        {"key": "approve", "title": "Approve", "group": "supervisors"},
        {
            "key": "order",
            "title": "Order parts",
            "group": "procurement",
            "kind": "service",
            "service": {
                "action": "http.request",
                "params": {
                    "url": "https://crm.test/orders",
                    "method": "POST",
                    "body": {
                        "asset": "=intake.asset.tag",
                        "lines": ["=intake.items.filter(i, i.qty > 0).map(i, i.sku)"],
                        "cost": "=stages.inspect.data.cost",
                    },
                    "select": {"order_id": "/id"},
                },
                "timeout": "PT20S",
            },
        },
        {
            "key": "arrival",
            "title": "Wait for the part",
            "group": "procurement",
            "kind": "wait",
            "depends_on": ["order"],
            "wait": {
                "signal": "part-arrived",
                "correlation": "signal.order_id == stages.order.data.order_id",
                "timeout": "PT48H",
                "on_timeout": "chase",
            },
        },
        {"key": "chase", "title": "Chase the supplier", "group": "procurement"},
        {
            "key": "compute",
            "title": "Compute",
            "group": "maintenance",
            "kind": "service",
            "depends_on": ["approve", "arrival"],
            "service": {
                "action": "ticket.set_fields",
                "params": {"fields": {"total": "=stages.inspect.data.cost * 2.0"}},
            },
        },
        {
            "key": "cool",
            "title": "Cool down",
            "group": "maintenance",
            "kind": "timer",
            "depends_on": ["compute"],
            "timer": {"duration": "PT4H"},
        },
        {
            "key": "visit",
            "title": "Visit",
            "group": "field",
            "kind": "timer",
            "depends_on": ["compute"],
            "timer": {"until": "timestamp(intake.visit_at)"},
        },
        {
            "key": "child",
            "title": "Follow-up",
            "group": "care",
            "kind": "subprocess",
            "depends_on": ["cool", "visit"],
            "subprocess": {
                "definition": "care",
                "intake": {"asset": "intake.asset.tag", "total": "fields.total"},
            },
        },
        {
            "key": "close",
            "title": "Close",
            "group": "maintenance",
            "kind": "service",
            "depends_on": ["child", "chase"],
            "service": {
                "action": "ticket.set_fields",
                "params": {
                    "fields": {
                        "outcome": "=stages.child.data.status",
                        "ticket": "=ticket.key + ':' + string(ticket.priority)",
                    }
                },
            },
        },
    ],
}


def _problems(document: dict[str, Any], rules: PublishRules = RULES) -> list[Problem]:
    definition = ProcessDefinition.model_validate(document)
    return structural_problems(definition) + process_problems(definition, rules)


def test_the_valid_definition_has_no_problem() -> None:
    assert _problems(VALID) == []


Change = Callable[[dict[str, Any]], None]


def _stage(n: int, **changes: Any) -> Change:
    def change(document: dict[str, Any]) -> None:
        document["stages"][n].update(changes)

    return change


def _set(path: str, value: Any) -> Change:
    """Set (or with value None, delete) the value at a dotted path into the document."""

    def change(document: dict[str, Any]) -> None:
        *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
        target: Any = document
        for part in parents:
            target = target[part]
        if value is None:
            del target[last]
        else:
            target[last] = value

    return change


def _param(n: int, expression: str) -> Change:
    """Give stage n (a set_fields service) one computed field."""
    return _set(f"stages.{n}.service.params.fields", {"x": expression})


CASES: list[tuple[str, Change, str, str]] = [
    # Kinds and their specs.
    ("service without spec", _set("stages.2.service", None), "/stages/2/service", "needs"),
    (
        "spec of another kind",
        _stage(1, timer={"duration": "PT1H"}),
        "/stages/1/timer",
        "for timer stages",
    ),
    (
        "form on an automated stage",
        _stage(2, form={"type": "object"}),
        "/stages/2/form",
        "only a task",
    ),
    (
        "claim snapshot on an automated stage",
        _stage(2, snapshot_on_claim=True),
        "/stages/2/snapshot_on_claim",
        "only a task stage's task is claimed",
    ),
    # Actions.
    (
        "unknown action",
        _set("stages.2.service.action", "crm.push"),
        "/stages/2/service/action",
        "unknown action",
    ),
    (
        "timeout above the action's maximum",
        _set("stages.2.service.timeout", "PT10M"),
        "/stages/2/service/timeout",
        "at most",
    ),
    (
        "zero timeout",
        _set("stages.2.service.timeout", "PT0S"),
        "/stages/2/service/timeout",
        "positive",
    ),
    (
        "retry interval too long",
        _set("stages.2.service.retry", {"maximum_interval": "PT2H"}),
        "/stages/2/service/retry/maximum_interval",
        "at most",
    ),
    (
        "retry maximum below initial",
        _set("stages.2.service.retry", {"initial_interval": "PT10S", "maximum_interval": "PT1S"}),
        "/stages/2/service/retry/maximum_interval",
        "at least",
    ),
    (
        "zero retry interval",
        _set("stages.2.service.retry", {"initial_interval": "PT0S"}),
        "/stages/2/service/retry/initial_interval",
        "positive",
    ),
    (
        "host outside the allow-list",
        _set("stages.2.service.params.url", "https://evil.test/orders"),
        "/stages/2/service/params/url",
        "not on the allowed hosts",
    ),
    (
        "not http",
        _set("stages.2.service.params.url", "file:///etc/passwd"),
        "/stages/2/service/params/url",
        "must be http or https",
    ),
    (
        "url as an expression",
        _set("stages.2.service.params.url", "=intake.asset.tag"),
        "/stages/2/service/params/url",
        "literal",
    ),
    (
        "select as an expression",
        _set("stages.2.service.params.select", "=intake.asset"),
        "/stages/2/service/params/select",
        "literal object",
    ),
    # Expressions that do not compile or cost too much.
    (
        "does not parse",
        _set("stages.0.gateway.branches.0.when", "intake.severity =="),
        "/stages/0/gateway/branches/0/when",
        "not a valid expression",
    ),
    (
        "too deeply nested",
        _set("stages.0.gateway.branches.0.when", "(" * 30 + "intake.severity == 'x'" + ")" * 30),
        "/stages/0/gateway/branches/0/when",
        "nested",
    ),
    (
        "comprehensions nested three deep",
        _set(
            "stages.0.gateway.branches.0.when",
            "intake.items.all(a, a.all(b, b.exists(c, c == 1)))",
        ),
        "/stages/0/gateway/branches/0/when",
        "at most 2",
    ),
    (
        "too long",
        _param(5, "=" + "1 + " * 600 + "1"),
        "/stages/5/service/params/fields/x",
        "longer than",
    ),
    # Names no form or action output has.
    (
        "unknown intake field",
        _set("stages.0.gateway.branches.0.when", "intake.sevrity == 'critical'"),
        "/stages/0/gateway/branches/0/when",
        "the intake form has no field 'sevrity'",
    ),
    (
        "unknown nested intake field",
        _param(5, "=intake.asset.tga"),
        "/stages/5/service/params/fields/x",
        "field 'asset' has no field 'tga'",
    ),
    (
        "unknown intake field by index",
        _param(5, "=intake['colour']"),
        "/stages/5/service/params/fields/x",
        "no field 'colour'",
    ),
    (
        "unknown form field",
        _set("stages.2.service.params.body.cost", "=stages.inspect.data.price"),
        "/stages/2/service/params/body/cost",
        "the form of stage 'inspect' has no field 'price'",
    ),
    (
        "unknown action output field",
        _set("stages.3.wait.correlation", "signal.id == stages.order.data.orderid"),
        "/stages/3/wait/correlation",
        "no field 'orderid'",
    ),
    (
        "unknown computed field",
        _set("stages.8.subprocess.intake.total", "fields.totl"),
        "/stages/8/subprocess/intake/total",
        "sets field 'totl'",
    ),
    (
        "subprocess outcome has key and status only",
        _param(9, "=stages.child.data.result"),
        "/stages/9/service/params/fields/x",
        "key and status",
    ),
    ("timer has no data", _param(9, "=stages.cool.data.at"), "/stages/9", "has no data"),
    (
        "task without form has no data fields",
        _param(9, "=stages.approve.data.ok"),
        "/stages/9/service/params/fields/x",
        "has no form",
    ),
    (
        "stage that is not upstream",
        _set("stages.2.service.params.body.cost", "=stages.approve.data"),
        "/stages/2/service/params/body/cost",
        "not upstream",
    ),
    (
        "a stage's own data before it ran",
        _set("stages.2.service.params.body.cost", "=stages.order.data.order_id"),
        "/stages/2/service/params/body/cost",
        "not upstream",
    ),
    (
        "unknown stage",
        _param(9, "=stages.ghost.data.x"),
        "/stages/9/service/params/fields/x",
        "unknown stage 'ghost'",
    ),
    (
        "stages.K has only data",
        _param(9, "=stages.inspect.form"),
        "/stages/9/service/params/fields/x",
        "only `data`",
    ),
    (
        "unknown top-level name",
        _set("stages.0.gateway.branches.0.when", "severity == 'critical'"),
        "/stages/0/gateway/branches/0/when",
        "unknown name 'severity'",
    ),
    (
        "a comprehension's variable does not leak",
        _param(9, "=intake.items.map(i, i.sku).size() > 0 && i.sku == 'x'"),
        "/stages/9/service/params/fields/x",
        "unknown name 'i'",
    ),
    (
        "signal outside a correlation",
        _param(9, "=signal.order_id"),
        "/stages/9/service/params/fields/x",
        "only known in a wait's correlation",
    ),
    (
        "unknown ticket field",
        _param(9, "=ticket.owner"),
        "/stages/9/service/params/fields/x",
        "a ticket has no 'owner'",
    ),
    (
        "until expression names an unknown field",
        _set("stages.7.timer.until", "timestamp(intake.visit)"),
        "/stages/7/timer/until",
        "no field 'visit'",
    ),
    (
        "expressions too long together",
        _set(
            "stages.0.gateway.branches",
            [{"to": "approve", "when": "intake.severity == '" + "x" * 1975 + "'"}] * 50,
        ),
        "/stages/",
        "total more than",
    ),
    # Gateways and paths.
    (
        "exclusive gateway without default",
        _set("stages.0.gateway.default", None),
        "/stages/0/gateway/default",
        "needs a default",
    ),
    (
        "branch to an unknown stage",
        _set("stages.0.gateway.branches.0.to", "ghost"),
        "/stages/0/gateway/branches/0/to",
        "unknown stage",
    ),
    (
        "branch to itself",
        _set("stages.0.gateway.branches.0.to", "inspect"),
        "/stages/0/gateway/branches/0/to",
        "itself",
    ),
    (
        "default to an unknown stage",
        _set("stages.0.gateway.default", "ghost"),
        "/stages/0/gateway/default",
        "unknown stage",
    ),
    (
        "timeout path to an unknown stage",
        _set("stages.3.wait.on_timeout", "ghost"),
        "/stages/3/wait/on_timeout",
        "unknown stage",
    ),
    (
        "timeout path of a wait without timeout",
        _set("stages.3.wait.timeout", None),
        "/stages/3/wait/on_timeout",
        "never takes",
    ),
    (
        "so the timeout path's stage never runs",
        _set("stages.3.wait.timeout", None),
        "/stages/4",
        "never runs",
    ),
    (
        "a branch that is always false",
        _set("stages.0.gateway.branches.0.when", "1 > 2"),
        "/stages/0/gateway/branches/0",
        "its condition is false",
    ),
    (
        "a branch after one that always holds",
        _set("stages.0.gateway.branches.0.when", "true"),
        "/stages/0/gateway/branches/1",
        "an earlier branch always holds",
    ),
    (
        "a default after a branch that always holds",
        _set("stages.0.gateway.branches.0.when", "true"),
        "/stages/0/gateway/default",
        "never taken",
    ),
    (
        "so the default's stage never runs",
        _set("stages.0.gateway.branches.0.when", "true"),
        "/stages/2",
        "never runs",
    ),
    (
        "and neither does what only it leads to",
        _set("stages.0.gateway.branches.0.when", "true"),
        "/stages/3",
        "never runs",
    ),
    (
        "a condition that is not a boolean",
        _set("stages.0.gateway.branches.0.when", "1 + 1"),
        "/stages/0/gateway/branches/0/when",
        "not a boolean",
    ),
    (
        "a cycle through a gateway and a wait timeout",
        _stage(
            4,
            gateway={
                "type": "exclusive",
                "branches": [{"to": "inspect", "when": "intake.severity == 'x'"}],
                "default": "close",
            },
        ),
        "",
        "cycle: ",
    ),
    ("a cycle of dependencies", _stage(0, depends_on=["close"]), "", "cycle: "),
    # Timers and waits.
    ("timer without duration or until", _set("stages.6.timer", {}), "/stages/6/timer", "one of"),
    (
        "timer with both",
        _set("stages.6.timer.until", "timestamp(intake.visit_at)"),
        "/stages/6/timer",
        "exactly one",
    ),
    (
        "calendar on a date timer",
        _set("stages.7.timer.calendar", "plant"),
        "/stages/7/timer/calendar",
        "counts a duration",
    ),
    (
        "negative timer",
        _set("stages.6.timer.duration", "-PT1H"),
        "/stages/6/timer/duration",
        "positive",
    ),
    (
        "calendar on a wait without timeout",
        _set("stages.3.wait", {"signal": "part-arrived", "calendar": "plant"}),
        "/stages/3/wait/calendar",
        "counts a timeout",
    ),
]


@pytest.mark.parametrize(
    ("change", "at", "fragment"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_each_problem_is_found_where_it_is(change: Change, at: str, fragment: str) -> None:
    document = copy.deepcopy(VALID)
    change(document)
    problems = _problems(document)
    assert any(p.pointer.startswith(at) and fragment in p.detail for p in problems), problems


def test_every_problem_is_listed_at_once() -> None:
    together = [
        "form on an automated stage",
        "host outside the allow-list",
        "unknown intake field",
        "timeout path to an unknown stage",
        "timer without duration or until",
        "unknown ticket field",
    ]
    chosen = [c for c in CASES if c[0] in together]
    document = copy.deepcopy(VALID)
    for _name, change, _at, _fragment in chosen:
        change(document)
    problems = _problems(document)
    for _name, _change, at, fragment in chosen:
        assert any(p.pointer.startswith(at) and fragment in p.detail for p in problems)


def test_an_action_registered_by_a_worker_is_known_with_its_output() -> None:
    extra = ActionSpec(
        name="lab.reading",
        description="Read a lab instrument.",
        params_schema={"type": "object"},
        output_schema={
            "type": "object",
            "properties": {"temperature": {"type": "number"}},
            "additionalProperties": False,
        },
    )
    document = copy.deepcopy(VALID)
    document["stages"][2]["service"] = {"action": "lab.reading", "params": {}}
    document["stages"][3]["wait"]["correlation"] = "stages.order.data.temperature > 1.0"
    assert any("unknown action" in p.detail for p in _problems(document))
    rules = PublishRules(actions={**BUILTIN_ACTIONS, extra.name: extra})
    assert _problems(document, rules) == []
    document["stages"][3]["wait"]["correlation"] = "stages.order.data.humidity > 1.0"
    assert [p.pointer for p in _problems(document, rules)] == ["/stages/3/wait/correlation"]


def test_a_join_of_exclusive_branches_is_not_a_problem() -> None:
    # Dead-path elimination: `compute` waits only for the branch taken out of `inspect`.
    document = copy.deepcopy(VALID)
    document["stages"][5]["depends_on"] = ["approve", "order"]
    assert _problems(document) == []


@pytest.mark.parametrize(
    ("url", "allowed", "ok"),
    [
        ("https://crm.test/x", ["crm.test"], True),
        ("https://CRM.test/x", ["crm.test"], True),
        # A host listed without a port is allowed on its scheme's default port only.
        ("https://crm.test:8443/x", ["crm.test"], False),
        ("https://crm.test:8443/x", ["crm.test:8443"], True),
        ("https://crm.test/x", ["crm.test:8443"], False),
        ("https://crm.test/x", ["crm.test:443"], True),
        ("http://crm.test/x", ["crm.test:443"], False),
        ("http://[::1]:9000/x", ["[::1]:9000"], True),
        ("https://crm.test@evil.test/x", ["crm.test"], False),
        ("https://crm.test.evil.test/x", ["crm.test"], False),
        ("ftp://crm.test/x", ["crm.test"], False),
        ("https:///x", ["crm.test"], False),
        ("https://crm.test:99999/x", ["crm.test"], False),
        ("https://crm.test/x", [], False),
    ],
)
def test_url_allow_list(url: str, allowed: list[str], ok: bool) -> None:
    assert (url_problem(url, allowed) is None) is ok


@pytest.mark.parametrize(("name", "document"), bundled_definitions())
def test_bundled_definitions_pass(name: str, document: object) -> None:
    """Under the allow-list `ticketflow dev` gives them (see ticketflow.devstack)."""
    definition = ProcessDefinition.model_validate(document)
    rules = PublishRules(http_allowed_hosts=tuple(bundled_http_hosts()))
    assert process_problems(definition, rules) == [], name


def test_the_bundled_crm_call_needs_its_host_allowed() -> None:
    (document,) = [d for n, d in bundled_definitions() if n == "after-sales-repair.yaml"]
    problems = process_problems(ProcessDefinition.model_validate(document), PublishRules())
    assert [p.detail for p in problems] == [
        "127.0.0.1:8070 is not on the allowed hosts (TICKETFLOW_HTTP_ALLOWED_HOSTS)"
    ]
