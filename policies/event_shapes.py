"""What each ticket event says, and which field gates each part of it.

An event is shown only if its `gate` fields are readable (a `priority_changed` says something
about the priority, so it needs `priority`). Its `actor` is a person's name: shown if the
`actor` fields are readable, or if it is one of the system's own actors. Each key of its
`data` has a rule:

* a field name: shown if that field is readable (masked if maskable and only that);
* `Gate(...)`: free text copied from those fields, shown only if every one is readable;
* `FORM`: a stage's form data, redacted at every depth like the intake;
* `GatedForm(...)`: form data shown only if its gate fields are readable (an action's output);
* `KEEP`: an identifier without personal data;
* `Fields({...})`: an object whose keys have rules of their own;
* `Keyed(f)`: an object whose key `k` is shown if every field `f(k)` names is readable.

Keys an event type does not declare are removed, and an event type that is not in the table
keeps only `seq`, `type` and `at`. Rules are looked up by event type and key, never by a form
field's name, so a form field called `body` or `form` means nothing here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from domain.sentiment import SENTIMENT_ACTOR
from domain.sla_clocks import SLA_ACTOR
from domain.ticket import GIT
from domain.triage import CATEGORICAL_FIELDS
from domain.triage_routing import LIVE_PREFIX, NUMBER_SOURCES, TEXT_FIELDS, TRIAGE_ACTOR
from policies.catalog import child_path
from policies.derived import LIVE_SOURCE
from policies.redaction import (
    FORM,
    KEEP,
    OUTPUT,
    TITLE,
    FieldView,
    Gate,
    GatedForm,
    mask,
    redact_form,
)

# Actors the domain writes itself: no person's name.
SYSTEM_ACTORS = frozenset({"system", SLA_ACTOR, TRIAGE_ACTOR.user, GIT, SENTIMENT_ACTOR})


@dataclass(frozen=True)
class Fields:
    """An object value whose keys have rules of their own (undeclared keys removed)."""

    rules: Mapping[str, Any]


@dataclass(frozen=True)
class Keyed:
    """An object value whose key `k` is shown if every field `sources(k)` names is readable;
    a key for which `sources` gives None is removed."""

    sources: Callable[[str], tuple[str, ...] | None]


@dataclass(frozen=True)
class EventShape:
    """The gate of a whole event, of its actor, and the rule of each data key."""

    data: Mapping[str, Any] = field(default_factory=dict)
    gate: tuple[str, ...] = ()
    actor: tuple[str, ...] = ("assignee",)


def _categorical(key: str) -> tuple[str, ...] | None:
    # The triage input takes these from the intake field of the same name; the requester's
    # role and department stand in when the intake has none.
    if key not in CATEGORICAL_FIELDS:
        return None
    return (key, "requester") if key in ("reporter_role", "department") else (key,)


def _number(key: str) -> tuple[str, ...]:
    # A device number is read from `device_snapshot.<k>` or `device.<k>` of the intake; a live
    # reading from the device read at creation, which automated stages brought in.
    if key.startswith(LIVE_PREFIX):
        return (LIVE_SOURCE,)
    return tuple(child_path(source, key) for source in NUMBER_SOURCES)


@dataclass(frozen=True)
class _NestedGate(Gate):
    """A gate that also needs every field declared inside `nested` objects (at any depth)."""

    nested: tuple[str, ...] = ()

    def allows(self, view: FieldView) -> bool:
        """Whether this caller sees the value."""
        catalog = view.catalog
        inside = [p for p in catalog.fields if any(p.startswith(n + ".") for n in self.nested)]
        # A key the form does not declare, under an object whose others are stricter.
        inside += [
            child_path(p, "*undeclared*")
            for p in catalog.others
            if any(p == n or p.startswith(n + ".") for n in self.nested)
        ]
        return super().allows(view) and all(view.readable(p) for p in inside)


def _deliverable(key: str) -> tuple[str, ...]:
    return ("deliverables", child_path("deliverables", key))


# What the triage model reads: everything its answer's features can be derived from. A device
# number is read from inside its object, whose fields may each be stricter than it; the live
# readings of the device read at creation are `outputs`.
TRIAGE_SOURCES = _NestedGate(
    (
        "triage",
        "title",
        "requester",
        *TEXT_FIELDS,
        *CATEGORICAL_FIELDS,
        *NUMBER_SOURCES,
        LIVE_SOURCE,
    ),
    if_declared=TITLE.if_declared,
    nested=NUMBER_SOURCES,
)

# `kind` is only on a follow-up's events (`followup`); `stage` is then its follow-up id.
TASK = {
    "task": KEEP,
    "stage": "tasks",
    "group": "tasks",
    "assignee": "assignee",
    "kind": KEEP,
}
BEFORE = Fields({"group": "tasks", "assignee": "assignee"})
SLA = {"clock": "sla", "stage": "sla", "round": "sla"}
# An actor who may be the requester or a handler.
PEOPLE = ("requester", "assignee")
# Who decides an expedite: a member of its supervisor group, named like a task's holder.
SUPERVISORS = ("sentiment", "assignee")

EVENT_SHAPES: dict[str, EventShape] = {
    "created": EventShape(
        {
            "definition": "definition",
            "title": TITLE,
            "priority": "priority",
            # A subprocess's child: the parent ticket and stage that started it.
            "parent": Fields({"key": "tasks", "stage": "tasks"}),
        },
        actor=("requester",),
    ),
    # A follow-up opens for an SLA rung (`escalation`) or a confirmed expedite (`expedite`).
    "task_opened": EventShape(
        {**TASK, "escalation": "sla", "expedite": "sentiment"}, gate=("tasks",)
    ),
    "task_claimed": EventShape(TASK, gate=("tasks",)),
    "task_unclaimed": EventShape(TASK, gate=("tasks",)),
    "task_completed": EventShape({**TASK, "form": FORM}, gate=("tasks",)),
    "task_reassigned": EventShape(
        {
            **TASK,
            # A person's reason, or an SLA rung's subject, which names the ticket's title.
            "reason": Gate(("tasks", "title"), if_declared=TITLE.if_declared),
            "before": BEFORE,
        },
        gate=("tasks",),
    ),
    # Triage (the model or a dispatcher) handed a routed stage's task to a team.
    "task_routed": EventShape({**TASK, "before": BEFORE}, gate=("tasks",)),
    # A follow-up withdrawn because its ticket closed or was cancelled.
    "task_cancelled": EventShape({**TASK, "reason": "status"}, gate=("tasks",)),
    # Automated stages and gateways. An action's output is ticket data for the handlers
    # (`outputs`), redacted like a form; its parameters are never recorded. A wait's signal
    # payload is shown only in the `external_event` that carried it. Errors and reasons name
    # stages, expressions and actions, not values.
    "gateway_decided": EventShape(
        {**TASK, "type": "tasks", "taken": "tasks", "default": "tasks", "error": "tasks"},
        gate=("tasks",),
    ),
    "stage_skipped": EventShape({**TASK, "reason": "tasks"}, gate=("tasks",)),
    "service_started": EventShape(
        {**TASK, "action": "tasks", "attempt_limit": "tasks"}, gate=("tasks",)
    ),
    "service_completed": EventShape({**TASK, "action": "tasks", "output": OUTPUT}, gate=("tasks",)),
    "service_failed": EventShape(
        {**TASK, "action": "tasks", "error": "tasks", "attempts": "tasks"}, gate=("tasks",)
    ),
    "service_retried": EventShape({**TASK, "by": "assignee"}, gate=("tasks",)),
    # A person's reason for finishing a failed service stage without its action.
    "service_skipped": EventShape({**TASK, "by": "assignee", "reason": "tasks"}, gate=("tasks",)),
    # A device snapshot the ticket took (at creation, or a `device.snapshot` stage): what the
    # device told is the handlers' (`outputs`), the readings themselves are the stage's data.
    # The device id is also the intake's `device_id` where a form declares one.
    "device_snapshot_taken": EventShape(
        {
            **TASK,
            "device_id": Gate(("outputs",), if_declared=("device_id",)),
            "sha256": "outputs",
            "taken_at": "outputs",
            "good": "outputs",
            "bad": "outputs",
        },
        gate=("outputs",),
    ),
    "wait_started": EventShape({**TASK, "signal": "tasks", "until": "tasks"}, gate=("tasks",)),
    "wait_matched": EventShape({**TASK, "signal": "tasks", "signal_id": KEEP}, gate=("tasks",)),
    "wait_timed_out": EventShape({**TASK, "signal": "tasks"}, gate=("tasks",)),
    "timer_started": EventShape({**TASK, "until": "tasks", "error": "tasks"}, gate=("tasks",)),
    "timer_fired": EventShape(TASK, gate=("tasks",)),
    "subprocess_started": EventShape(
        {**TASK, "child": "tasks", "definition": "definition"}, gate=("tasks",)
    ),
    "subprocess_closed": EventShape(
        {**TASK, "child": "tasks", "status": "tasks", "error": "tasks"}, gate=("tasks",)
    ),
    # A version handed over: what it is shows where its own field `deliverables.<key>` does.
    "deliverable_attached": EventShape(
        {
            **TASK,
            "deliverable": "deliverables",
            "version": "deliverables",
            "attached": Keyed(_deliverable),
        },
        gate=("tasks", "deliverables"),
    ),
    # A pushed commit that named the ticket where no stage expects one: the git server's
    # report, like an outside system's; the message and its author are the developers' notes,
    # read like an internal comment. (A commit a stage expects is a `deliverable_attached`
    # whose version holds these details, shown where `deliverables.<key>` is.)
    "commit_referenced": EventShape(
        {
            "repository": "external",
            "repository_url": "external",
            "sha": "external",
            "url": "external",
            "author": Fields({"name": "internal_comments", "email": "internal_comments"}),
            "message": "internal_comments",
        },
        gate=("external",),
    ),
    # The reason is the handlers' note to each other, read like an internal comment.
    "contract_amended": EventShape(
        {
            **TASK,
            "reason": Gate(("deliverables", "internal_comments")),
            "before": "deliverables",
            "deliverables": "deliverables",
        },
        gate=("tasks", "deliverables"),
        actor=("deliverables", *PEOPLE),
    ),
    "resolved": EventShape({"confirm_by": "status"}, gate=("status",)),
    "comment_added": EventShape(
        {"body": "comments", "internal": KEEP},
        gate=("comments",),
        actor=("comments", *PEOPLE),
    ),
    # An internal comment (or one whose `internal` flag is anything but false).
    "comment_added/internal": EventShape(
        {"body": "internal_comments", "internal": KEEP},
        gate=("internal_comments",),
        actor=("internal_comments", *PEOPLE),
    ),
    "cancelled": EventShape({"reason": "comments"}, gate=("status",), actor=PEOPLE),
    "reopened": EventShape(
        {"reason": "comments", "stages": "tasks"}, gate=("status",), actor=PEOPLE
    ),
    "closed": EventShape({"by": "status", "comment": "comments"}, gate=("status",), actor=PEOPLE),
    "external_event": EventShape(
        {"name": "external", "payload": "external"}, gate=("external",), actor=("external",)
    ),
    "sla_started": EventShape({**SLA, "target": "sla", "due_at": "sla"}, gate=("sla",)),
    "sla_restarted": EventShape(SLA, gate=("sla",)),
    "sla_stopped": EventShape(
        {**SLA, "outcome": "sla", "elapsed": "sla", "paused": "sla"}, gate=("sla",)
    ),
    "sla_paused": EventShape({**SLA, "reason": "sla"}, gate=("sla",)),
    "sla_resumed": EventShape({**SLA, "due_at": "sla"}, gate=("sla",)),
    "sla_retargeted": EventShape(
        {
            **SLA,
            "priority": "priority",
            "target_before": "sla",
            "target": "sla",
            "due_at": "sla",
        },
        gate=("sla",),
    ),
    "sla_breached": EventShape({**SLA, "due_at": "sla"}, gate=("sla",)),
    "sla_rung_fired": EventShape(
        {**SLA, "rung": "sla", "name": "sla", "due_at": "sla", "actions": "sla"}, gate=("sla",)
    ),
    "priority_changed": EventShape(
        {
            "from": "priority",
            "to": "priority",
            "reason": Gate(("priority", "title"), if_declared=TITLE.if_declared),
        },
        gate=("priority",),
    ),
    "waiting_started": EventShape({"reason": "sla", "note": "sla"}, gate=("sla",), actor=PEOPLE),
    "waiting_ended": EventShape({"reason": "sla", "note": "sla"}, gate=("sla",), actor=PEOPLE),
    "triaged": EventShape(
        {
            # The model's input, copied from the intake: each part gated by its source.
            "ticket": Fields(
                {
                    "key": KEEP,
                    "title": TITLE,
                    "description": Gate(TEXT_FIELDS),
                    "fields": Keyed(_categorical),
                    "numbers": Keyed(_number),
                }
            ),
            "result": Fields(
                {
                    "model_version": "triage",
                    "error": "triage",
                    "team": "triage",
                    "confidence": "triage",
                    "category": "triage",
                    "category_confidence": "triage",
                    "priority": Gate(("triage", "priority")),
                    "alternatives": "triage",
                    # Features name words and values of the fields the model read.
                    "top_features": TRIAGE_SOURCES,
                    "evidence": "triage",
                }
            ),
            "threshold": "triage",
            "min_evidence": "triage",
            "routed": "triage",
            "team": "triage",
        },
        gate=("triage",),
    ),
    "triage_dispatched": EventShape(
        {
            "team": "triage",
            "category": "triage",
            "priority": Gate(("triage", "priority")),
            "reason": "triage",
        },
        gate=("triage",),
    ),
    # Expedites the customer's sentiment proposed: that a message of theirs read as angry or
    # anxious is itself about their sentiment. The proposal names the stored record, never
    # its text or score.
    "expedite_proposed": EventShape(
        {
            "proposal": KEEP,
            "record": "sentiment",
            "group": "sentiment",
            "priority_from": Gate(("sentiment", "priority")),
            "priority_to": Gate(("sentiment", "priority")),
        },
        gate=("sentiment",),
    ),
    "expedite_confirmed": EventShape(
        {"proposal": KEEP, "reason": "sentiment"}, gate=("sentiment",), actor=SUPERVISORS
    ),
    "expedite_declined": EventShape(
        {"proposal": KEEP, "reason": "sentiment"}, gate=("sentiment",), actor=SUPERVISORS
    ),
    "expedite_withdrawn": EventShape({"proposal": KEEP}, gate=("sentiment",)),
    # Another requester's report: their name and their words.
    "duplicate_reported": EventShape(
        {
            "requester": "duplicates",
            # The reporter's own words, keyed by the intake field each came from.
            "intake": FORM,
            "title": "duplicates",
            "description": "duplicates",
            "similarity": "duplicates",
            "report_id": "duplicates",
        },
        gate=("duplicates",),
        actor=("duplicates",),
    ),
    # A ticket filed separately that may repeat this one (or that this one may repeat): the
    # link itself says that someone else reported something alike.
    "possible_duplicate": EventShape(
        {
            "related": Fields({"ticket": "links", "relation": "links", "similarity": "links"}),
            "report_id": KEEP,
        },
        gate=("links",),
    ),
    # Recurrence (domain/recurrence.py). The new ticket names the closed one it recurs; the
    # closed one's watch names the ticket that recurred it. Either outcome says whether
    # someone else reported the same problem since, so both are for those who read links.
    "recurrence_of": EventShape({"ticket": "links", "closed_at": "links"}, gate=("links",)),
    "recurrence_watch_started": EventShape({"until": "status"}, gate=("status",)),
    "recurred": EventShape({"by": "links", "closed_at": "links"}, gate=("links",)),
    "eradicated": EventShape({"closed_at": "links", "days": "links"}, gate=("links",)),
}

# The care of the ticket's customer after close (CareWorkflow): every part is `care`. A
# decision's actor and `by` are the care agent who decided.
CARE_ACTION_KEYS = (
    "action",
    "rule",
    "mode",
    "due_at",
    "outcome",
    "channel",
    "status",
    "task",
    "group",
    "deadline",
    "error",
    "revoked_at",
    "by",
    "reason",
)
EVENT_SHAPES.update(
    {
        "care_started": EventShape(
            {"strategy": "care", "planned": "care"}, gate=("care",), actor=("care",)
        ),
        "care_action": EventShape(
            dict.fromkeys(CARE_ACTION_KEYS, "care"), gate=("care",), actor=("care",)
        ),
        "care_ended": EventShape({"outcomes": "care"}, gate=("care",), actor=("care",)),
    }
)

_ALWAYS = ("seq", "type", "at")


def shape_of(event: Mapping[str, Any]) -> EventShape | None:
    """The declared shape of this event (None for a type nobody declared)."""
    name = _shape_name(event)
    return None if name is None else EVENT_SHAPES[name]


# How a data key is shown, once its rule is decided for a view.
_SHOW, _MASK, _FORM, _FIELDS, _KEYED = range(5)
_Compiled = dict[str, tuple[int, Any]]


def _compile(view: FieldView, rules: Mapping[str, Any]) -> _Compiled:
    """Each key's rule decided for this view; keys it may not see are left out."""
    out: _Compiled = {}
    for key, rule in rules.items():
        if rule == KEEP:
            out[key] = (_SHOW, None)
        elif rule == FORM:
            out[key] = (_FORM, None)
        elif isinstance(rule, GatedForm):
            if view.all_readable(rule.gate):
                out[key] = (_FORM, None)
        elif isinstance(rule, Gate):
            if rule.allows(view):
                out[key] = (_SHOW, None)
        elif isinstance(rule, Fields):
            out[key] = (_FIELDS, _compile(view, rule.rules))
        elif isinstance(rule, Keyed):
            out[key] = (_KEYED, rule.sources)
        elif view.readable(rule):
            out[key] = (_SHOW, None)
        elif view.masked(rule):
            out[key] = (_MASK, None)
    return out


def _fields(view: FieldView, rules: _Compiled, data: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if not isinstance(data, Mapping):
        return out
    for key, value in data.items():
        rule = rules.get(key)
        if rule is None:
            continue  # undeclared or denied: removed, never passed on
        how, inner = rule
        if how == _SHOW:
            out[key] = value
        elif how == _FORM:
            out[key] = redact_form(value, view)
        elif how == _FIELDS:
            if isinstance(value, Mapping):
                out[key] = _fields(view, inner, value)
        elif how == _KEYED:
            if isinstance(value, Mapping):
                out[key] = {
                    k: v
                    for k, v in value.items()
                    if (sources := inner(k)) is not None and view.all_readable(sources)
                }
        elif not isinstance(value, Mapping | list):
            out[key] = mask(value)
    return out


_Decided = tuple[bool, bool, _Compiled]


def _decided(view: FieldView, name: str, shape: EventShape) -> _Decided:
    """(event shown, actor shown, data rules) of one shape for this view, worked out once."""
    key = "event:" + name
    found: _Decided | None = view.derived.get(key)
    if found is None:
        found = (
            view.all_readable(shape.gate),
            view.all_readable(shape.actor),
            _compile(view, shape.data),
        )
        view.derived[key] = found
    return found


def _shape_name(event: Mapping[str, Any]) -> str | None:
    """The table's name for this event's shape (None for a type nobody declared)."""
    type_ = event.get("type")
    if not isinstance(type_, str):
        return None
    if type_ == "comment_added":
        data = event.get("data")
        if not isinstance(data, Mapping) or data.get("internal") is not False:
            return "comment_added/internal"
    return type_ if type_ in EVENT_SHAPES else None


def redact_event(event: Mapping[str, Any], view: FieldView) -> dict[str, Any] | None:
    """One event as this caller may see it; None when the whole event is about a denied field."""
    out = {key: event[key] for key in _ALWAYS if key in event}
    name = _shape_name(event)
    if name is None:
        return out
    shown, actor_shown, rules = _decided(view, name, EVENT_SHAPES[name])
    if not shown:
        return None
    actor = event.get("actor")
    if actor_shown or (isinstance(actor, str) and actor in SYSTEM_ACTORS):
        out["actor"] = actor
    out["data"] = _fields(view, rules, event.get("data"))
    return out


def redact_events(events: Iterable[Mapping[str, Any]], view: FieldView) -> list[dict[str, Any]]:
    """A timeline as this caller may see it: events about denied fields left out."""
    shown = (redact_event(e, view) for e in events)
    return [e for e in shown if e is not None]
