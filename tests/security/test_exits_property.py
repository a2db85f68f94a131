"""Property: no exit shows a value of a field a fresh `enforce` denies the caller, at any depth.

The generator builds an intake and a stage form that nest fields (objects, arrays of objects,
arrays of values) with random sensitivities and maskability, under names event payloads use
(`body`, `form`, `description`, `details`, `numbers`, `payload`, `title`...), fills every
value with a unique marker, and drives a ticket through the domain (triage, a completion, an
internal comment, a linked report, an outside system's event, and automated stages: an action
that fails, is retried by a person and gives an output under those names, a wait its signal
ends, a subprocess's child). Then, for each caller, every
exit (detail, list, events, export JSON and CSV, task queue, trace, and over HTTP the
history, timeline and raw) is searched for the marker of
each field the enforcer does not let the caller read: by value, whatever key it sits under.
Most examples run the exits' redaction with the real enforcer; one set runs over HTTP.
"""

from __future__ import annotations

import asyncio
import csv
import io
import itertools
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi.encoders import jsonable_encoder
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from activities.triage import register_run
from api.routes.exports import _flatten
from domain.definitions import ProcessDefinition
from domain.notifications import NotificationParts
from domain.ticket import Actor, TicketState
from domain.trace import TraceSources, VersionRecord, build_trace
from domain.triage import (
    DuplicateReportInput,
    FeatureWeight,
    Suggestion,
    TriageResult,
    TriageTicket,
)
from domain.triage_routing import apply_triage, record_duplicate, triage_input
from policies.catalog import catalog_from_document, child_path, item_path
from policies.derived import shown_triage_result
from policies.enforcer import db_enforcer
from policies.event_shapes import redact_events
from policies.notifications import Stored, render_notification
from policies.redaction import TICKET_SHAPE, FieldView, redact, redact_task
from policies.trace import redact_trace
from services.duplicates import report_excerpt, report_text
from store.definitions import get_definition
from tests.api.access_helpers import grant
from tests.api.conftest import Api
from tests.security.policy import (
    CALLERS,
    DEPARTMENT,
    Oracle,
    access_control,
    view_of,
    with_rules,
)
from tests.triage.fixtures import sample_examples
from triage.candidates import BLEND
from triage.training import Example as TrainingExample

NAMES = [
    *("body", "form", "payload", "description", "details", "numbers", "title", "summary"),
    *("contact", "device_snapshot", "device", "error_code", "id_number", "note", "reason"),
]
LEVELS = [None, "public", "internal", "confidential", "restricted"]
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
# Markers are unique across examples, so tickets of earlier examples never match.
_COUNTER = itertools.count(1)
# Every generated object takes keys it does not declare (each gets one, to prove an undeclared
# key is redacted like its nearest declared ancestor); without this they would be refused.
OPEN = {"additionalProperties": True}


def _level(schema: dict[str, Any], level: str | None, maskable: bool) -> dict[str, Any]:
    if level:
        schema["x-sensitivity"] = level
    if maskable:
        schema["x-maskable"] = True
    return schema


@st.composite
def _node(draw: st.DrawFn, depth: int) -> dict[str, Any]:
    kinds = ["text", "text", "number", "object", "objects", "texts"] if depth < 3 else ["text"]
    kind = draw(st.sampled_from(kinds))
    level, maskable = draw(st.sampled_from(LEVELS)), draw(st.booleans())
    if kind in ("text", "number"):
        return _level({"type": "string" if kind == "text" else "number"}, level, maskable)
    if kind == "object":
        properties = draw(_properties(depth + 1))
        return _level({"type": "object", "properties": properties, **OPEN}, level, False)
    if kind == "texts":
        items = _level({"type": "string"}, draw(st.sampled_from(LEVELS)), draw(st.booleans()))
        return _level({"type": "array", "items": items}, level, False)
    items = _level(
        {"type": "object", "properties": draw(_properties(depth + 1)), **OPEN},
        draw(st.sampled_from(LEVELS)),
        False,
    )
    return _level({"type": "array", "items": items}, level, False)


@st.composite
def _properties(draw: st.DrawFn, depth: int) -> dict[str, Any]:
    size = (2, 6) if depth == 0 else (1, 3)
    names = draw(st.lists(st.sampled_from(NAMES), min_size=size[0], max_size=size[1], unique=True))
    return {name: draw(_node(depth)) for name in names}


FORMS = st.tuples(_properties(0), _properties(0))
# A text title of some sensitivity: notifications mention it and triage reads its words. The
# pure test also goes without one (the ticket's title is then the summary, if text).
TITLES = st.sampled_from(LEVELS).map(lambda level: _level({"type": "string"}, level, False))
# A few more rules on the generated fields, on top of the default policy.
RULES = st.lists(
    st.tuples(
        st.sampled_from(
            [
                *("role:agent", "@owner", "role:auditor", "role:process_owner"),
                *("role:system", "role:requester"),
            ]
        ),
        st.sampled_from(NAMES),
        st.sampled_from(["", ".*"]),
        st.sampled_from(["read", "read_masked", "*"]),
        st.sampled_from(["public", "internal", "confidential", "restricted"]),
        st.sampled_from(["allow", "deny"]),
    ),
    max_size=2,
)


def _marker(markers: dict[str, tuple[str, ...]], path: str, *, number: bool) -> Any:
    n = next(_COUNTER)
    value: Any = 7_000_000 + n + 0.25 if number else f"MK{n:06d}QX"
    markers[str(value)] = (path,)
    return value


def _fill(schema: dict[str, Any], path: str, markers: dict[str, tuple[str, ...]]) -> Any:
    """A value for the schema with a marker in every leaf, an undeclared key in each object."""
    kind = schema.get("type")
    if kind == "object":
        value = {k: _fill(s, child_path(path, k), markers) for k, s in schema["properties"].items()}
        value["extra"] = _marker(markers, child_path(path, "extra"), number=False)
        return value
    if kind == "array":
        return [_fill(schema["items"], item_path(path), markers) for _ in range(2)]
    return _marker(markers, path, number=kind == "number")


def _form(properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": properties, **OPEN}


# Automated stages after the work: an action, a wait for its part, a child ticket.
AUTOMATED = [
    {
        "key": "fetch",
        "title": "Fetch",
        "group": DEPARTMENT,
        "kind": "service",
        "depends_on": ["work"],
        "service": {"action": "http.request", "params": {"url": "https://crm.test/x"}},
    },
    {
        "key": "arrive",
        "title": "Arrive",
        "group": DEPARTMENT,
        "kind": "wait",
        "depends_on": ["fetch"],
        "wait": {"signal": "part"},
    },
    {
        "key": "sub",
        "title": "Sub",
        "group": DEPARTMENT,
        "kind": "subprocess",
        "depends_on": ["arrive"],
        "subprocess": {"definition": "care"},
    },
]


def _definition(intake: dict[str, Any], stage: dict[str, Any], prefix: str) -> dict[str, Any]:
    return {
        "key": "gen",
        "title": "Generated",
        "key_prefix": prefix,
        "department": DEPARTMENT,
        "intake_form": _form(intake),
        "stages": [{"key": "work", "title": "Work", "group": DEPARTMENT, "form": _form(stage)}],
    }


class Example:
    """One generated ticket: its data, the markers in it, and the field each marker needs."""

    def __init__(self, intake: dict[str, Any], stage: dict[str, Any]) -> None:
        self.markers: dict[str, tuple[str, ...]] = {}
        self.intake = {k: _fill(s, k, self.markers) for k, s in intake.items()}
        self.stage = {k: _fill(s, k, self.markers) for k, s in stage.items()}
        self.intake["extra"] = _marker(self.markers, "extra", number=False)
        self.note = self._other("internal_comments")
        self.report = self._other("duplicates")
        self.signal = self._other("external")
        self.link = self._other("links")
        # An action's output under the generated names (and one nested undeclared key): the
        # handlers' `outputs`, each key as sensitive as a form field of its name.
        names = sorted({*intake, *stage})[:3]
        self.output: dict[str, Any] = {n: self._other("outputs", n) for n in names}
        self.output["details"] = {"extra": self._other("outputs", "details.extra")}
        self.error = self._other("tasks")
        # A version handed over, named by its uploader: what it is needs its own field.
        self.version = VersionRecord(
            stage="work",
            deliverable="evidence",
            version=1,
            sha256="a" * 64,
            size=1,
            media_type="text/plain",
            file_name=self._other("deliverables", "deliverables.evidence"),
            author="dana",
            at=NOW,
        )
        self.part = {"text": self._other("external")}
        # Another requester's report of the same problem, merged into this ticket: its
        # excerpt's values need their field and the merged reports.
        filled: dict[str, tuple[str, ...]] = {}
        self.repeat = {k: _fill(s, k, filled) for k, s in intake.items()}
        self.markers.update({m: (*paths, "duplicates") for m, paths in filled.items()})

    def _other(self, *gates: str) -> str:
        text = f"MK{next(_COUNTER):06d}QX"
        self.markers[text] = gates
        return text

    def denied(self, oracle: Oracle) -> list[str]:
        """Markers of fields this caller may not read."""
        return [m for m, paths in self.markers.items() if not all(oracle.reads(p) for p in paths)]

    def allowed_intake(self, oracle: Oracle) -> list[str]:
        """Intake markers the caller may read in clear (they must be shown)."""
        return [
            m
            for m, paths in self.markers.items()
            if all(oracle.reads(p) for p in paths) and _holds(self.intake, str(m))
        ]


def _holds(data: Any, marker: str) -> bool:
    return marker in json.dumps(data)


def _triage_result(seen: TriageTicket) -> TriageResult:
    """A model's answer naming what it read, as its features do: text words, categoricals,
    device numbers (a number's weight is computed from its value: it stands in for it)."""
    words = f"{seen.title} {seen.description}".split()
    features = [FeatureWeight(feature=f"word:{w}", weight=1.0) for w in words]
    features += [
        FeatureWeight(feature=f"field:{k}={v}", weight=0.5) for k, v in seen.fields.items()
    ]
    features += [FeatureWeight(feature=f"device:{k}", weight=v) for k, v in seen.numbers.items()]
    return TriageResult(
        model_version=1,
        team=DEPARTMENT,
        confidence=0.9,
        category="network",
        alternatives=[Suggestion(label="ops", probability=0.1)],
        top_features=features,
    )


def _state(example: Example, catalog_document: dict[str, Any]) -> TicketState:
    """The ticket driven through the domain: triage, a completion, comments, reports."""
    document = {
        **catalog_document,
        "version": 1,
        "triage": {"dispatcher_group": DEPARTMENT, "routed_stages": ["work"]},
    }
    definition = ProcessDefinition.model_validate(document)
    requester = Actor(user="rita", department="sales", role="requester")
    state = TicketState.create(
        key="GEN-1", definition=definition, intake=example.intake, requester=requester, now=NOW
    )
    seen = triage_input(state)
    apply_triage(state, seen, _triage_result(seen), NOW)
    dana = CALLERS["dana"]
    state.claim("work", dana, NOW)
    state.complete("work", dana, example.stage, NOW)
    state.comment(dana, example.note, True, NOW)
    state.record_external("crm_update", "monitor", {"text": example.signal}, NOW)
    report = DuplicateReportInput(requester="sam", title="Same", description=example.report)
    record_duplicate(state, report, NOW)
    merged = DuplicateReportInput(requester="sam", excerpt=report_excerpt(intake=example.repeat))
    record_duplicate(state, merged, NOW)
    link = DuplicateReportInput(requester="", related_key=example.link, relation="repeated_by")
    record_duplicate(state, link, NOW)
    if "fetch" in state.tasks:
        _automate(state, example, dana)
    return state


def _automate(state: TicketState, example: Example, dana: Actor) -> None:
    """The action fails, dana has it retried, it gives its output; a signal ends the wait."""
    state.open_ready_tasks(NOW)
    state.service_failed("fetch", example.error, 3, NOW)
    state.claim("fetch", dana, NOW)
    state.complete("fetch", dana, {"decision": "retry"}, NOW)
    state.service_completed("fetch", example.output, NOW)
    state.record_external("part", "monitor", example.part, NOW)
    state.wait_matched("arrive", example.part, "", NOW)
    state.subprocess_started("sub", "CARE-1", "care@1", NOW)


def _csv(documents: list[dict[str, Any]]) -> str:
    rows = [_flatten(jsonable_encoder(d)) for d in documents]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(dict.fromkeys(c for r in rows for c in r)))
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def _exits(
    state: TicketState, view: FieldView, versions: list[VersionRecord]
) -> Iterator[tuple[str, str]]:
    """(exit, serialised answer) of every exit, as the routes build them."""
    if not view.visible():
        return
    snapshot = state.snapshot().model_dump(mode="json")
    tasks = [{**t, "ticket_key": state.key} for t in snapshot["tasks"]]
    summary = {k: v for k, v in snapshot.items() if k not in ("intake", "tasks")}
    detail = redact({**snapshot, "tasks": tasks}, view, TICKET_SHAPE)
    yield "detail", json.dumps(detail)
    yield "list", json.dumps(redact(summary, view, TICKET_SHAPE))
    exported = redact({**summary, "intake": snapshot["intake"]}, view, TICKET_SHAPE)
    yield "export", json.dumps(exported)
    yield "export.csv", _csv([exported])
    if view.readable("events"):
        events = [e.model_dump(mode="json") for e in state.events]
        yield "events", json.dumps(redact_events(events, view))
    if view.readable("tasks"):
        yield "tasks", json.dumps([redact_task(t, view) for t in tasks])
    sources = TraceSources(
        key=state.key, definition=state.definition, events=state.events, versions=versions
    )
    yield "trace", json.dumps(redact_trace(build_trace(sources).model_dump(mode="json"), view))
    if view.readable("triage"):
        [triaged] = [e for e in state.events if e.type == "triaged"]
        shown = shown_triage_result(triaged.data["result"], state.intake, view)
        yield "triage", json.dumps(shown)
    for stored in _notifications(state):
        text = render_notification(stored, view, {"title": state.title})
        yield "notification", json.dumps(text.__dict__ if text else None)


def _notifications(state: TicketState) -> list[Stored]:
    """A fired rung mentioning the title, as recorded now and as recorded before parts."""
    parts = NotificationParts(clock="resolution", rung=1, rung_name="due", mentions=["title"])
    subject = f"{state.key}: SLA due reached on the ticket"
    return [
        Stored(state.key, subject, "resolution rung 1", parts.model_dump(mode="json")),
        Stored(state.key, f"{subject} ({state.title})", "resolution rung 1", None),
    ]


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(forms=FORMS, rules=RULES, title=st.none() | TITLES)
# A ticket's title is a system field: the policy, not its form, hides it from someone.
@example(
    forms=({"body": {"type": "string"}}, {"note": {"type": "string"}}),
    rules=[("role:requester", "title", "", "read", "public", "deny")],
    title={"type": "string"},
)
def test_no_exit_shows_a_value_the_enforcer_denies(
    default_enforcer: Any,
    forms: tuple[dict[str, Any], dict[str, Any]],
    rules: list[Any],
    title: dict[str, Any] | None,
) -> None:
    intake, stage = forms
    if title is not None:
        intake = {"title": title, **intake}
    document = _definition(intake, stage, "GEN")
    document["stages"] = [*document["stages"], *AUTOMATED]
    catalog = catalog_from_document(document)
    example = Example(intake, stage)
    state = _state(example, document)
    lines = [(s, "*", f"ticket.{n}{w}", a, c, e) for s, n, w, a, c, e in rules]
    enforcer = with_rules(default_enforcer, lines)
    access = access_control(enforcer)
    groups = {t.group for t in state.tasks.values()} - {DEPARTMENT}
    for caller in CALLERS:
        view = view_of(access, caller, catalog, intake=example.intake, groups=groups)
        oracle = Oracle(enforcer, caller, catalog, intake=example.intake, groups=groups)
        denied = example.denied(oracle)
        for exit_, text in _exits(state, view, [example.version]):
            leaked = [m for m in denied if m in text]
            assert not leaked, (caller, exit_, leaked, [example.markers[m] for m in leaked])
            if exit_ == "detail":
                missing = [m for m in example.allowed_intake(oracle) if m not in text]
                assert not missing, (caller, [example.markers[m] for m in missing])


# Over HTTP the definition also triages (never sure enough to route on its own, so the
# ticket waits in the dispatch queue), checks for repeats, and notifies on a one-second rung.
HTTP_TRIAGE = {
    "threshold": 1.0,
    "dispatcher_group": DEPARTMENT,
    "routed_stages": ["work"],
    "duplicates": {"threshold": 0.5},
}
RECIPIENTS = [
    *("group:sales", "group:service-desk", "group:ops", "group:it"),
    *("role:auditor", "role:process_owner", "role:admin"),
]
HTTP_SLA = {
    "targets": {"P1": "PT1S"},
    "target": "PT1H",
    "ladder": [
        {
            "name": "due",
            "at_fraction": 1.0,
            "actions": [{"type": "notify", "recipients": RECIPIENTS}],
        }
    ],
}
# The same problem from someone else: filed with the same asset, it is a repeat.
ASSET = {"asset_id": {"type": "string"}}
# The requester, an agent of the desk, then two who may not see her ticket.
REPEATERS = ("rita", "dana", "sam", "otto")
# A stage after the work keeps the ticket open, so that the repeats find it.
VERIFY = {"key": "verify", "title": "Verify", "group": DEPARTMENT, "depends_on": ["work"]}
LIST_FILTERS = ({"status": "open"}, {"definition": "gen"}, {"assignee": "dana"})


# The sample's first tickets (two teams): a model of them trains in a tenth of a second.
TRAINING_SAMPLE = 24


async def _train(api: Api, example: Example, document: dict[str, Any]) -> None:
    """Promote a model that learnt this ticket's own words, so its answer names them."""
    seen = triage_input(_state(example, document))
    own = [TrainingExample(ticket=seen, team="network", category="connectivity")] * 4
    trained = await register_run(
        sessions=api.sessions,
        data_dir=api.data_dir,
        examples=[*sample_examples()[:TRAINING_SAMPLE], *own],
        candidates=(BLEND,),
        current=None,
        note="exits",
    )
    assert trained.promoted, trained


async def _polled(api: Api, path: str, user: str) -> httpx.Response:
    """The answer once it is there: triage and notifications come after the filing."""
    for _ in range(200):
        response = await api.http.get(path, headers=api.auth(user))
        assert response.status_code < 500, response.text
        if response.status_code == 200 and response.json():
            return response
        await asyncio.sleep(0.05)
    raise AssertionError(f"{path} never answered for {user}")


def _leaks(example: Example, oracle: Oracle, text: str) -> list[tuple[str, ...]]:
    """The fields whose values this answer shows the caller against the oracle.

    Case-blind: the triage model lowercases the words it names.
    """
    text = text.lower()
    return [example.markers[m] for m in example.denied(oracle) if m.lower() in text]


# Shrinking over HTTP takes minutes: a failure is reported as generated.
@settings(
    max_examples=5,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
)
@given(forms=FORMS, title=TITLES, description=TITLES)
# Words and a categorical the model reads from fields the requester may not read.
@example(
    forms=({"error_code": {"type": "string", "x-sensitivity": "restricted"}}, {}),
    title={"type": "string"},
    description={"type": "string", "x-sensitivity": "confidential"},
)
async def test_no_http_exit_shows_a_value_the_enforcer_denies(
    api: Api,
    forms: tuple[dict[str, Any], dict[str, Any]],
    title: dict[str, Any],
    description: dict[str, Any],
) -> None:
    if "granted" not in api.scratch:
        # Rita and the agents may write every field, so each generated value is in the ticket.
        for subject in ("@owner", "role:agent"):
            await grant(
                api, subject=subject, object="ticket.*", action="write", clearance="restricted"
            )
        # The title is a system field no form makes stricter: one reader of the ticket who
        # may not read it, so that what mentions it (lists, notifications) is put to the test.
        await grant(
            api,
            subject="role:auditor",
            domain="*",
            object="ticket.title",
            action="read",
            clearance="public",
            effect="deny",
        )
        api.scratch["granted"] = "yes"
    intake, stage = forms
    # A generated field of the same name takes the place of these.
    intake = {"title": title, "description": description, **intake, **ASSET}
    document = {**_definition(intake, stage, api.prefix), "triage": HTTP_TRIAGE, "sla": HTTP_SLA}
    document["stages"] = [*document["stages"], VERIFY]
    # The admin publishes: the process office may not publish the desk's next version.
    published = await api.http.post("/definitions", json=document, headers=api.auth("root"))
    assert published.status_code == 201, published.text
    example = Example(intake, stage)
    await _train(api, example, document)
    filed = await api.http.post(
        "/tickets",
        # An earlier example's ticket of hers is not this one's original.
        json={
            "definition": "gen",
            "data": example.intake,
            "priority": "P1",
            "allow_duplicate": True,
        },
        headers=api.auth("rita"),
    )
    assert filed.status_code == 201, filed.text
    key = filed.json()["key"]
    # Read while the ticket waits for a dispatcher and its SLA clock runs.
    waiting = {
        "triage": await _polled(api, f"/tickets/{key}/triage", "root"),
        "notification": await _polled(api, f"/notifications?ticket={key}", "audrey"),
    }
    assert waiting["triage"].json()["result"]["top_features"], waiting["triage"].text
    answers: dict[str, dict[str, httpx.Response]] = {c: {} for c in CALLERS}
    for caller in CALLERS:
        auth = api.auth(caller)
        answers[caller]["triage"] = await api.http.get(f"/tickets/{key}/triage", headers=auth)
        answers[caller]["triage queue"] = await api.http.get("/triage/queue", headers=auth)
        answers[caller]["notifications"] = await api.http.get(
            "/notifications", params={"ticket": key}, headers=auth
        )
    # Each change answered to its caller: an agent of the desk, and the admin.
    changes: list[tuple[str, str, dict[str, Any] | None]] = [
        ("dana", "tasks/work/claim", None),
        ("dana", "tasks/work/reassign", {"to_user": "dora", "reason": "handover"}),
        ("root", "tasks/work/reassign", {"to_user": "dana", "reason": "back"}),
        ("dana", "tasks/work/complete", {"data": example.stage}),
        ("dana", "comments", {"body": example.note, "internal": True}),
        ("root", "comments", {"body": "seen", "internal": True}),
    ]
    for n, (caller, path, body) in enumerate(changes):
        done = await api.http.post(f"/tickets/{key}/{path}", json=body, headers=api.auth(caller))
        assert done.status_code == 200, (caller, path, done.text)
        answers[caller][f"change {n}: {path}"] = done
    for marker in (example.report, example.signal, example.link):
        example.markers.pop(marker)  # no outside event over HTTP; reports come last
    async with api.sessions() as session:
        enforcer = await db_enforcer(session)
        row = await get_definition(session=session, key="gen", version=published.json()["version"])
        assert row is not None
        catalog = catalog_from_document(row.document)
    oracles = {c: Oracle(enforcer, c, catalog, intake=example.intake) for c in CALLERS}
    for caller, oracle in oracles.items():
        auth = api.auth(caller)
        got = answers[caller]
        got["detail"] = await api.http.get(f"/tickets/{key}", headers=auth)
        got["list"] = await api.http.get("/tickets", headers=auth)
        for query in LIST_FILTERS:
            got[f"list {query}"] = await api.http.get("/tickets", params=query, headers=auth)
        got["events"] = await api.http.get(f"/tickets/{key}/events", headers=auth)
        got["export"] = await api.http.get("/tickets/export", headers=auth)
        got["export.csv"] = await api.http.get(
            "/tickets/export", params={"format": "csv"}, headers=auth
        )
        got["tasks"] = await api.http.get("/tasks", headers=auth)
        got["trace"] = await api.http.get(f"/tickets/{key}/trace", headers=auth)
        got["history"] = await api.http.get(f"/tickets/{key}/history", headers=auth)
        got["history.raw"] = await api.http.get(
            f"/tickets/{key}/history", params={"format": "raw"}, headers=auth
        )
        # A caller the ticket is a 404 for learns not even its key from any exit (a refusal
        # names only the key they asked for).
        hidden = got["detail"].status_code == 404
        for exit_, answer in got.items():
            assert answer.status_code < 500, (caller, exit_, answer.text)
            named = answer.status_code < 400 and key in answer.text
            assert not (hidden and named), (caller, exit_, answer.text)
            if answer.status_code == 403:
                assert answer.headers["content-type"] == "application/problem+json", answer.text
            leaked = _leaks(example, oracle, answer.text)
            assert not leaked, (caller, exit_, leaked)
    # The same report again from each of them: told of the original only if they may see it.
    repeats: list[str] = []
    for caller in REPEATERS:
        again = await api.http.post(
            "/tickets",
            json={"definition": "gen", "data": example.intake},
            headers=api.auth(caller),
        )
        assert again.status_code in (200, 201), again.text
        assert not _leaks(example, oracles[caller], again.text), (caller, again.text)
        await _only_keys_they_see(api, caller, again.text, [key])
        if again.status_code == 201:
            repeats.append(again.json()["key"])
    if repeats and report_text(intake=example.intake).strip():
        # The same text is a repeat: the first filed anew is linked to the original (a later
        # one to the newest equally similar ticket, that first one).
        await _linked(api, key, repeats[0])
    for caller, oracle in oracles.items():
        events = await api.http.get(f"/tickets/{key}/events", headers=api.auth(caller))
        assert not _leaks(example, oracle, events.text), (caller, "events after repeats")
        await _only_keys_they_see(api, caller, events.text, repeats)


async def _only_keys_they_see(api: Api, caller: str, text: str, keys: list[str]) -> None:
    """Every one of these ticket keys the answer names is a ticket the caller may read."""
    for named in (k for k in keys if k in text):
        seen = await api.http.get(f"/tickets/{named}", headers=api.auth(caller))
        assert seen.status_code == 200, (caller, named, text)


async def _linked(api: Api, key: str, related: str) -> None:
    """Wait until the ticket's timeline links that one, as its desk sees it."""
    for _ in range(200):
        events = await api.http.get(f"/tickets/{key}/events", headers=api.auth("dana"))
        if related in events.text:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{key} was never linked to {related}")
