"""The publish checks of the process language that need no store: kinds, actions, gateways,
paths, expressions and the names they read.

They run on a definition whose forms are resolved inline (services.publishing does that
first); what needs published data (action parameter schemas, calendars, other definitions) is
checked in services.process_publishing.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from domain.actions import BUILTIN_ACTIONS, ActionSpec
from domain.definitions import ProcessDefinition, StageDefinition
from domain.deliverables import contract_problems
from domain.expression_analysis import DYNAMIC, Analysis, Reference, analyse
from domain.expressions import ExpressionError, evaluate
from domain.outbound import url_refusal
from domain.problems import Problem, pointer
from domain.process_graph import Edge, ancestors, stage_edges

CONTEXT_NAMES = frozenset({"intake", "stages", "ticket", "fields"})
TICKET_FIELDS = frozenset({"key", "priority", "status", "definition"})
SUBPROCESS_OUTCOME = frozenset({"key", "status"})
# CEL's type names are values too (`type(x) == string`).
CEL_TYPES = frozenset(
    {"bool", "bytes", "double", "duration", "dyn", "int", "list", "map", "null_type"}
    | {"string", "timestamp", "type", "uint"}
)
MAX_RETRY_INTERVAL = timedelta(hours=1)
# All of a definition's expressions together: analysing takes about 3.5 ms per 1,000
# characters, so this bounds the expression checks of one publish to about a third of a second.
MAX_EXPRESSION_CHARACTERS = 100_000
HTTP_SCHEMES = ("http", "https")
SPEC_FIELDS = ("service", "wait", "timer", "subprocess")


@dataclass(frozen=True)
class PublishRules:
    """What a deployment allows: the actions its workers serve, the hosts HTTP may call."""

    actions: Mapping[str, ActionSpec] = field(default_factory=lambda: dict(BUILTIN_ACTIONS))
    http_allowed_hosts: tuple[str, ...] = ()
    max_subprocess_depth: int = 5


@dataclass(frozen=True)
class _Site:
    """Where an expression sits: its stage, whether that stage's own data exists by then."""

    at: str
    source: str
    stage: int
    includes_self: bool
    signal: bool = False


def process_problems(definition: ProcessDefinition, rules: PublishRules) -> list[Problem]:
    """Every problem of kinds, actions, gateways, paths and expressions, located."""
    problems: list[Problem] = []
    keys = {s.key for s in definition.stages}
    for i, stage in enumerate(definition.stages):
        problems += _kind_problems(i, stage, rules)
        problems += _target_problems(i, stage, keys)
    automated = {i for i, s in enumerate(definition.stages) if s.kind != "task"}
    problems += contract_problems(definition.stages, automated=automated)
    problems += _path_problems(definition)
    problems += _expression_problems(definition, rules)
    return problems


def url_problem(url: str, allowed_hosts: tuple[str, ...] | list[str]) -> str | None:
    """Why an http.request url may not be called, or None (the run-time rule, at publish)."""
    if url.startswith("="):
        return "the url must be a literal: its host is checked against the allow-list"
    refusal = url_refusal(url, allowed_hosts)
    if refusal is not None:
        return refusal
    return None


def _problem(*at: str | int, detail: str) -> Problem:
    return Problem(pointer=pointer(*at), detail=detail)


def _kind_problems(i: int, stage: StageDefinition, rules: PublishRules) -> list[Problem]:
    problems = []
    for spec in SPEC_FIELDS:
        given = getattr(stage, spec) is not None
        if spec == stage.kind and not given:
            problems.append(_problem("stages", i, spec, detail=f"a {spec} stage needs `{spec}`"))
        elif spec != stage.kind and given:
            problems.append(
                _problem(
                    "stages", i, spec, detail=f"`{spec}` is for {spec} stages, not {stage.kind}"
                )
            )
    if stage.kind != "task":
        for name in ("form", "form_ref"):
            if getattr(stage, name) is not None:
                problems.append(
                    _problem("stages", i, name, detail="only a task stage has a completion form")
                )
        if stage.snapshot_on_claim:
            problems.append(
                _problem(
                    "stages", i, "snapshot_on_claim", detail="only a task stage's task is claimed"
                )
            )
    if stage.service is not None and stage.kind == "service":
        problems += _service_problems(i, stage, rules)
    if stage.timer is not None and stage.kind == "timer":
        timer = stage.timer
        at = ("stages", i, "timer")
        if (timer.duration is None) == (timer.until is None):
            problems.append(_problem(*at, detail="give exactly one of duration and until"))
        if timer.duration is not None and timer.duration <= timedelta(0):
            problems.append(_problem(*at, "duration", detail="must be positive"))
        if timer.calendar is not None and timer.duration is None:
            problems.append(
                _problem(*at, "calendar", detail="a calendar counts a duration; until is a date")
            )
    if stage.wait is not None and stage.kind == "wait":
        wait = stage.wait
        at = ("stages", i, "wait")
        if wait.timeout is not None and wait.timeout <= timedelta(0):
            problems.append(_problem(*at, "timeout", detail="must be positive"))
        if wait.timeout is None:
            if wait.on_timeout is not None:
                problems.append(
                    _problem(
                        *at, "on_timeout", detail="a wait without a timeout never takes this path"
                    )
                )
            if wait.calendar is not None:
                problems.append(_problem(*at, "calendar", detail="a calendar counts a timeout"))
    return problems


def _service_problems(i: int, stage: StageDefinition, rules: PublishRules) -> list[Problem]:
    assert stage.service is not None
    service = stage.service
    at = ("stages", i, "service")
    problems = []
    spec = rules.actions.get(service.action)
    if spec is None:
        known = ", ".join(sorted(rules.actions)) or "none"
        problems.append(
            _problem(*at, "action", detail=f"unknown action {service.action!r} (known: {known})")
        )
    if service.timeout <= timedelta(0):
        problems.append(_problem(*at, "timeout", detail="must be positive"))
    elif spec is not None and service.timeout > spec.max_timeout:
        problems.append(
            _problem(
                *at,
                "timeout",
                detail=f"{service.action} allows at most {spec.max_timeout} per attempt",
            )
        )
    retry = service.retry
    if retry.initial_interval <= timedelta(0):
        problems.append(_problem(*at, "retry", "initial_interval", detail="must be positive"))
    if retry.maximum_interval < retry.initial_interval:
        problems.append(
            _problem(
                *at, "retry", "maximum_interval", detail="must be at least the initial_interval"
            )
        )
    if retry.maximum_interval > MAX_RETRY_INTERVAL:
        problems.append(
            _problem(*at, "retry", "maximum_interval", detail=f"at most {MAX_RETRY_INTERVAL}")
        )
    if service.action == "http.request":
        url = service.params.get("url")
        if isinstance(url, str):
            why = url_problem(url, rules.http_allowed_hosts)
            if why is not None:
                problems.append(_problem(*at, "params", "url", detail=why))
    if spec is not None and spec.output_fields_from is not None:
        named = service.params.get(spec.output_fields_from)
        if isinstance(named, str):
            problems.append(
                _problem(
                    *at,
                    "params",
                    spec.output_fields_from,
                    detail="must be a literal object: its keys are the stage's output fields",
                )
            )
    return problems


def _target_problems(i: int, stage: StageDefinition, keys: set[str]) -> list[Problem]:
    problems = []
    targets: list[tuple[tuple[str | int, ...], str]] = []
    if stage.gateway is not None:
        gateway = stage.gateway
        for j, branch in enumerate(gateway.branches):
            targets.append((("gateway", "branches", j, "to"), branch.to))
        if gateway.default is not None:
            targets.append((("gateway", "default"), gateway.default))
        elif gateway.type == "exclusive":
            problems.append(
                _problem(
                    "stages",
                    i,
                    "gateway",
                    "default",
                    detail="an exclusive gateway needs a default for when no branch holds",
                )
            )
    if stage.wait is not None and stage.wait.on_timeout is not None:
        targets.append((("wait", "on_timeout"), stage.wait.on_timeout))
    for at, target in targets:
        if target == stage.key:
            problems.append(_problem("stages", i, *at, detail="a stage cannot lead to itself"))
        elif target not in keys:
            problems.append(_problem("stages", i, *at, detail=f"unknown stage {target!r}"))
    return problems


def _constant(source: str) -> tuple[bool, Any]:
    """(True, value) when an expression reads no names and so always gives one value."""
    try:
        analysis = analyse(source)
    except ExpressionError:
        return False, None
    if analysis.references:
        return False, None
    try:
        return True, evaluate(source, {})
    except ExpressionError:
        return False, None  # reported with the expression's own problems


def _dead_edges(definition: ProcessDefinition) -> tuple[set[int], list[Problem]]:
    """Edges (by index in stage_edges) that are never taken, and why, as problems."""
    edges = stage_edges(definition)
    by_place = {e.declared_at: n for n, e in enumerate(edges)}
    dead: set[int] = set()
    problems: list[Problem] = []
    for i, stage in enumerate(definition.stages):
        wait = stage.wait
        if wait is not None and wait.on_timeout is not None and wait.timeout is None:
            dead.add(by_place[pointer("stages", i, "wait", "on_timeout")])  # reported by kind
        if stage.gateway is None:
            continue
        decided = False  # an earlier branch always holds
        for j, branch in enumerate(stage.gateway.branches):
            place = pointer("stages", i, "gateway", "branches", j)
            is_constant, value = _constant(branch.when)
            if is_constant and not isinstance(value, bool):
                problems.append(
                    Problem(
                        pointer=place + "/when",
                        detail=f"gives {type(value).__name__}, not a boolean",
                    )
                )
            never = (is_constant and value is False) or (
                decided and stage.gateway.type == "exclusive"
            )
            if never:
                dead.add(by_place[place + "/to"])
                why = "an earlier branch always holds" if decided else "its condition is false"
                problems.append(Problem(pointer=place, detail=f"this branch is never taken: {why}"))
            if is_constant and value is True:
                decided = True
        if decided and stage.gateway.default is not None:
            place = pointer("stages", i, "gateway", "default")
            dead.add(by_place[place])
            problems.append(
                Problem(pointer=place, detail="the default is never taken: a branch always holds")
            )
    return dead, problems


def _path_problems(definition: ProcessDefinition) -> list[Problem]:
    """Branches never taken and the stages that therefore never run (dead-path elimination).

    A join waits only for the edges that are taken, so it fires whenever one of them is: what
    can go wrong is a stage whose every incoming edge is never taken.
    """
    dead, problems = _dead_edges(definition)
    keys = {s.key for s in definition.stages}
    incoming: dict[str, list[tuple[int, Edge]]] = {}
    for n, edge in enumerate(stage_edges(definition)):
        if edge.source in keys and edge.target in keys and edge.source != edge.target:
            incoming.setdefault(edge.target, []).append((n, edge))
    never: set[str] = set()
    changed = True
    while changed:
        changed = False
        for key, edges in incoming.items():
            if key not in never and all(n in dead or e.source in never for n, e in edges):
                never.add(key)
                changed = True
    for i, stage in enumerate(definition.stages):
        if stage.key in never:
            problems.append(
                _problem("stages", i, detail="this stage never runs: no path into it is taken")
            )
    return problems


def _parameter_expressions(value: Any, at: tuple[str | int, ...]) -> Iterator[tuple[str, str]]:
    """Each `=expression` among a service's parameters, nested values included."""
    if isinstance(value, str) and value.startswith("="):
        yield pointer(*at), value[1:]
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _parameter_expressions(v, (*at, k))
    elif isinstance(value, list):
        for n, v in enumerate(value):
            yield from _parameter_expressions(v, (*at, n))


def _sites(definition: ProcessDefinition) -> Iterator[_Site]:
    for i, stage in enumerate(definition.stages):
        if stage.gateway is not None:
            for j, branch in enumerate(stage.gateway.branches):
                at = pointer("stages", i, "gateway", "branches", j, "when")
                yield _Site(at, branch.when, i, includes_self=True)
        if stage.service is not None:
            at_params = ("stages", i, "service", "params")
            for at, source in _parameter_expressions(stage.service.params, at_params):
                yield _Site(at, source, i, includes_self=False)
        if stage.wait is not None and stage.wait.correlation is not None:
            at = pointer("stages", i, "wait", "correlation")
            source = stage.wait.correlation
            yield _Site(at, source, i, includes_self=False, signal=True)
        if stage.timer is not None and stage.timer.until is not None:
            yield _Site(pointer("stages", i, "timer", "until"), stage.timer.until, i, False)
        if stage.subprocess is not None:
            for name, source in stage.subprocess.intake.items():
                at = pointer("stages", i, "subprocess", "intake", name)
                yield _Site(at, source, i, includes_self=False)


def schema_fields(schema: object) -> set[str] | None:
    """The properties a form or output schema declares; None when it may hold any field."""
    if not isinstance(schema, dict):
        return None
    parts = [schema] + [
        s for key in ("allOf", "anyOf", "oneOf") for s in schema.get(key, []) if isinstance(s, dict)
    ]
    parts += [schema[k] for k in ("then", "else") if isinstance(schema.get(k), dict)]
    names: set[str] = set()
    for part in parts:
        extra = part.get("additionalProperties")
        if (
            "$ref" in part
            or "patternProperties" in part
            or extra is True
            or isinstance(extra, dict)
        ):
            return None
        properties = part.get("properties")
        if isinstance(properties, dict):
            names.update(properties)
    return names


def _property(schema: object, name: str) -> object:
    if not isinstance(schema, dict):
        return None
    for part in [
        schema,
        *schema.get("allOf", []),
        *schema.get("anyOf", []),
        *schema.get("oneOf", []),
    ]:
        properties = part.get("properties") if isinstance(part, dict) else None
        if isinstance(properties, dict) and name in properties:
            return properties[name]
    return None


def _path_in_schema(schema: object, path: tuple[str, ...], what: str) -> str | None:
    """Why `path` names no field of `schema`, or None; checked while the schema declares one."""
    for depth, name in enumerate(path):
        if name == DYNAMIC:
            return None
        declared = schema_fields(schema)
        if declared is None:
            return None
        if name not in declared:
            where = what if depth == 0 else f"{what} field {'.'.join(path[:depth])!r}"
            return f"{where} has no field {name!r}"
        schema = _property(schema, name)
        # Deeper only into objects that declare their own properties.
        if not (isinstance(schema, dict) and "properties" in schema):
            return None
    return None


@dataclass
class _Names:
    """What the expressions of one definition may read."""

    definition: ProcessDefinition
    rules: PublishRules
    upstream: dict[str, set[str]]
    stage_index: dict[str, int]

    def stage_data_problem(self, key: str, path: tuple[str, ...]) -> str | None:
        stage = self.definition.stages[self.stage_index[key]]
        what = f"the data of stage {key!r}"
        if stage.kind == "task":
            if stage.form is None and stage.form_ref is not None:
                return None  # its reference did not resolve: reported already
            if stage.form is None:
                return f"stage {key!r} has no form, so its data has no fields"
            return _path_in_schema(stage.form, path, f"the form of stage {key!r}")
        if stage.kind == "service":
            spec = self.rules.actions.get(stage.service.action) if stage.service else None
            if stage.service is None or spec is None:
                return None  # reported as the stage's own problem
            return _path_in_schema(_output_schema(spec, stage.service.params), path, what)
        if stage.kind == "wait":
            return None  # the signal's payload: any shape its sender gives
        if stage.kind == "subprocess":
            if path[0] not in SUBPROCESS_OUTCOME:
                return f"a subprocess's data is its child's key and status, not {path[0]!r}"
            return None
        return f"a {stage.kind} stage has no data"

    def fields_problem(self, stage: StageDefinition, available: set[str], name: str) -> str | None:
        declared: set[str] = set()
        for key in available:
            other = self.definition.stages[self.stage_index[key]]
            if other.service is None or other.service.action != "ticket.set_fields":
                continue
            values = other.service.params.get("fields")
            if not isinstance(values, dict):
                return None
            declared.update(values)
        if name == DYNAMIC or name in declared:
            return None
        return f"no ticket.set_fields stage upstream of {stage.key!r} sets field {name!r}"


def _output_schema(spec: ActionSpec, params: dict[str, Any]) -> dict[str, Any]:
    """The action's output schema, with the fields its parameters name (http.request's select)."""
    if spec.output_fields_from is None:
        return spec.output_schema
    named = params.get(spec.output_fields_from)
    if named is not None and not isinstance(named, dict):
        return {}  # not a literal object: reported, and its fields are unknown
    declared = dict(spec.output_schema.get("properties", {}))
    if isinstance(named, dict):
        declared.update({key: {} for key in named})
    return {"type": "object", "properties": declared, "additionalProperties": False}


def _reference_problem(names: _Names, site: _Site, ref: Reference) -> str | None:
    stage = names.definition.stages[site.stage]
    head, rest = ref.path[0], ref.path[1:]
    available = set(names.upstream.get(stage.key, set()))
    if site.includes_self:
        available.add(stage.key)
    if head == "signal":
        return None if site.signal else "`signal` is only known in a wait's correlation"
    if head in CEL_TYPES and not rest:
        return None
    if head not in CONTEXT_NAMES:
        allowed = sorted(CONTEXT_NAMES | ({"signal"} if site.signal else set()))
        return f"unknown name {head!r} (known: {', '.join(allowed)})"
    if not rest or rest[0] == DYNAMIC:
        return None
    if head == "intake":
        if names.definition.intake_form is None:
            return None  # the intake form did not resolve: reported already
        return _path_in_schema(names.definition.intake_form, rest, "the intake form")
    if head == "ticket":
        if rest[0] not in TICKET_FIELDS:
            return f"a ticket has no {rest[0]!r} (known: {', '.join(sorted(TICKET_FIELDS))})"
        return None
    if head == "fields":
        return names.fields_problem(stage, available, rest[0])
    key = rest[0]
    if key not in names.stage_index:
        return f"unknown stage {key!r}"
    if key not in available:
        return (
            f"stage {key!r} is not upstream of {stage.key!r}: its data may not exist"
            " when this is evaluated"
        )
    if len(rest) == 1:
        return None
    if rest[1] != "data":
        return f"stages.{key} has only `data`, not {rest[1]!r}"
    if len(rest) == 2 or rest[2] == DYNAMIC:
        return None
    return names.stage_data_problem(key, rest[2:])


def _expression_problems(definition: ProcessDefinition, rules: PublishRules) -> list[Problem]:
    names = _Names(
        definition=definition,
        rules=rules,
        upstream=ancestors(definition),
        stage_index={s.key: i for i, s in reversed(list(enumerate(definition.stages)))},
    )
    problems = []
    total = 0
    for site in _sites(definition):
        total += len(site.source)
        if total > MAX_EXPRESSION_CHARACTERS:
            detail = f"the expressions total more than {MAX_EXPRESSION_CHARACTERS} characters"
            problems.append(Problem(pointer=site.at, detail=detail + "; checked up to here"))
            break
        try:
            analysis: Analysis = analyse(site.source)
        except ExpressionError as exc:
            problems.append(Problem(pointer=site.at, detail=f"not a valid expression: {exc}"))
            continue
        for ref in analysis.references:
            why = _reference_problem(names, site, ref)
            if why is not None:
                problems.append(
                    Problem(pointer=site.at, detail=f"{ref.dotted} (column {ref.column}): {why}")
                )
    return problems
