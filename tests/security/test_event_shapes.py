"""Typed event shapes: every event the domain appends is declared, and each part is gated."""

from __future__ import annotations

import ast
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import domain
from domain.care import CareStrategy, plan_care
from domain.care_flow import action_data, started_data, ticket_context
from domain.customers import Customer
from domain.definitions import ProcessDefinition
from domain.deliverables import CommitAuthor, DeliverableSpec, GitCommit, Submission
from domain.devices import Reading, Snapshot, seal
from domain.recurrence import RecordRecurrenceInput, RecurrenceRef, recurrence_event
from domain.sla_clocks import fire_due, pause, resume, set_priority, sync_clocks
from domain.ticket import Actor, ParentRef, TicketEvent, TicketState
from domain.triage import DispatchInput, DuplicateReportInput, FeatureWeight, TriageResult
from domain.triage_routing import apply_triage, dispatch, record_duplicate, triage_input
from policies.catalog import catalog_from_document
from policies.event_shapes import EVENT_SHAPES, Fields, redact_event, redact_events, shape_of
from tests.domain.processes import OPS, REPAIR
from tests.domain.tickets import ROOT
from tests.security import views
from tests.security.policy import access_control, view_of, with_rules

# Domain calls that append an event, and the position of the event type among their arguments.
APPENDERS = {"record_event": 0, "record_report": 0, "_task_event": 0, "_event": 1}
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
RITA = Actor(user="rita", department="sales", role="requester")
DANA = Actor(user="dana", department="service-desk", role="agent")
SECRET = "restricted"


def appended_types() -> set[str]:
    """Every event type a domain module passes to an appending call, read from the source."""
    found: set[str] = set()
    for path in Path(domain.__file__).parent.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for function in ast.walk(tree):
            if not isinstance(function, ast.FunctionDef):
                continue
            for node in ast.walk(function):
                argument = _type_argument(node)
                if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
                    found.add(argument.value)
                elif isinstance(argument, ast.Name) and (named := _assigned(function, argument.id)):
                    found |= named  # a type chosen among literals, then appended
                elif argument is not None:
                    # Only an appending helper passes on a type it was given.
                    assert function.name in APPENDERS, ast.unparse(node)
    return found


def _assigned(function: ast.FunctionDef, name: str) -> set[str]:
    """The string literals a function assigns to a local name (also by tuple unpacking)."""
    found: set[str] = set()
    for node in ast.walk(function):
        if not isinstance(node, ast.Assign):
            continue
        for target in node.targets:
            pairs = [(target, node.value)]
            if isinstance(target, ast.Tuple) and isinstance(node.value, ast.Tuple):
                pairs = list(zip(target.elts, node.value.elts, strict=False))
            for left, right in pairs:
                if (
                    isinstance(left, ast.Name)
                    and left.id == name
                    and isinstance(right, ast.Constant)
                    and isinstance(right.value, str)
                ):
                    found.add(right.value)
    return found


def _type_argument(node: ast.AST) -> ast.expr | None:
    if not isinstance(node, ast.Call):
        return None
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    position = APPENDERS.get(name)
    if position is None or len(node.args) <= position:
        return None
    return node.args[position]


def test_every_event_type_the_domain_appends_has_a_declared_shape() -> None:
    types = appended_types()
    assert {"created", "task_completed", "comment_added", "triaged", "sla_started"} <= types
    assert types - set(EVENT_SHAPES) == set()


DEFINITION: dict[str, Any] = {
    "key": "lab",
    "version": 1,
    "title": "Lab request",
    "key_prefix": "LAB",
    "department": "service-desk",
    "intake_form": {
        "type": "object",
        "properties": {
            # Form fields named like event keys: they mean nothing to the event shapes.
            "summary": {"type": "string", "x-sensitivity": SECRET},
            "description": {"type": "string", "x-sensitivity": SECRET},
            "body": {"type": "string", "x-sensitivity": SECRET},
            "payload": {"type": "string", "x-sensitivity": SECRET},
            "numbers": {"type": "string", "x-sensitivity": SECRET},
            "error_code": {"type": "string", "x-sensitivity": SECRET},
            "device_id": {"type": "string", "x-sensitivity": SECRET},
            "device_snapshot": {
                "type": "object",
                "properties": {"temperature_c": {"type": "number", "x-sensitivity": SECRET}},
            },
        },
    },
    "stages": [
        {
            "key": "work",
            "title": "Work",
            "group": "service-desk",
            "form": {
                "type": "object",
                "properties": {
                    "form": {"type": "string", "x-sensitivity": SECRET},
                    "body": {"type": "string", "x-sensitivity": SECRET},
                    "details": {"type": "string", "x-sensitivity": SECRET},
                    "note": {"type": "string", "x-sensitivity": "public"},
                },
            },
            "sla": {"target": 3600, "ladder": [{"at_fraction": 0.5, "actions": []}]},
        },
        {"key": "check", "title": "Check", "group": "service-desk", "depends_on": ["work"]},
    ],
    "sla": {"target": 7200, "targets": {"P1": 3600}, "pause_when": ["customer"]},
    "triage": {"dispatcher_group": "service-desk", "routed_stages": ["work"]},
}
INTAKE = {
    "summary": "MARK-SUMMARY",
    "description": "MARK-DESCRIPTION",
    "body": "MARK-BODY",
    "payload": "MARK-PAYLOAD",
    "numbers": "MARK-NUMBERS",
    "error_code": "MARK-ERROR",
    "device_id": "MARK-DEVICE",
    "device_snapshot": {"temperature_c": 71.25},
}
STAGE = {"form": "MARK-FORM", "body": "MARK-STAGE-BODY", "details": "MARK-DETAILS", "note": "ok"}


# The intake's device as read at creation: one good reading, one bad.
SNAPSHOT = seal(
    Snapshot(
        device_id="MARK-DEVICE",
        device_version=1,
        site="local",
        taken_at=NOW,
        readings=[
            Reading(point="temp", value=7, unit="C"),
            Reading(point="flow", quality="bad", reason="ILLEGAL_ADDRESS (2)"),
        ],
    )
)


def lifecycle() -> list[TicketEvent]:
    """A ticket driven through every kind of transition the domain has."""
    definition = ProcessDefinition.model_validate(DEFINITION)
    state = TicketState.create(
        key="LAB-1", definition=definition, intake=INTAKE, requester=RITA, now=NOW
    )
    sync_clocks(state, NOW)
    state.intake_snapshot_taken(SNAPSHOT, NOW)
    features = [FeatureWeight(feature="word:mark-description", weight=1.0)]
    result = TriageResult(model_version=1, team="desk", confidence=0.2, top_features=features)
    apply_triage(state, triage_input(state), result, NOW)
    dispatch(state, DispatchInput(actor=DANA, team="service-desk", priority="P1"), NOW)
    set_priority(state, DANA, "P1", "customer is down", NOW)
    pause(state, DANA, "customer", "waiting for logs", NOW)
    resume(state, RITA, "sent", NOW + timedelta(minutes=5))
    state.claim("work", DANA, NOW)
    state.unclaim("work", DANA, NOW)
    state.claim("work", DANA, NOW)
    fire_due(state, NOW + timedelta(hours=3))
    state.reassign("work", DANA, None, "dana", "back to me", NOW)
    state.comment(DANA, "MARK-INTERNAL", True, NOW)
    state.comment(RITA, "hello", False, NOW)
    state.complete("work", DANA, STAGE, NOW)
    state.open_ready_tasks(NOW)
    state.claim("check", DANA, NOW)
    state.complete("check", DANA, {}, NOW)
    state.open_ready_tasks(NOW)
    sync_clocks(state, NOW)
    confirmed = state.model_copy(deep=True)  # the other way a resolved ticket goes on
    closed = confirmed.confirm(RITA, "thanks", NOW)
    state.reopen(DANA, "again", None, NOW)
    sync_clocks(state, NOW)
    state.record_external("crm_update", "monitor", {"x": "MARK-EXTERNAL"}, NOW)
    report = DuplicateReportInput(requester="sam", title="MARK-SAM", description="MARK-SAM-TEXT")
    record_duplicate(state, report, NOW)
    merged = DuplicateReportInput(requester="sam", excerpt={"summary": "MARK-SAM-EXCERPT"})
    record_duplicate(state, merged, NOW)
    link = DuplicateReportInput(requester="sam", related_key="LAB-000009", relation="repeats")
    record_duplicate(state, link, NOW)
    state.open_followup("ops", "Follow up: late", "ticket", "sla", NOW)  # cancelled with it
    state.cancel(RITA, "never mind", NOW)
    return [*state.events, *closed]


def automated_lifecycle() -> list[TicketEvent]:
    """A child ticket through every automated stage kind, a gateway and a skipped path."""
    state = TicketState.create(
        key="FLOW-1",
        definition=REPAIR,
        intake={"severity": 5, "order": "PO-7"},
        requester=RITA,
        now=NOW,
        parent=ParentRef(key="LAB-1", stage="handover"),
    )
    state.service_failed("assess", "ActionFailed: HTTP 503", 3, NOW)
    state.claim("assess", OPS, NOW)
    skipped = state.model_copy(deep=True)
    skip = skipped.complete("assess", OPS, {"decision": "skip", "reason": "CRM down"}, NOW)
    state.complete("assess", OPS, {"decision": "retry"}, NOW)
    snapped = state.model_copy(deep=True)  # had the stage read a device
    snapshot_events = snapped.service_snapshot_taken("assess", SNAPSHOT, NOW)
    state.service_completed("assess", {"level": 5}, NOW)
    for key in ("safety", "verify"):
        state.claim(key, ROOT, NOW)
        state.complete(key, ROOT, {}, NOW)
        state.open_ready_tasks(NOW)
    timed_out = state.model_copy(deep=True)
    other_way = timed_out.wait_timed_out("part", NOW)
    state.wait_matched("part", {"order": "PO-7"}, "sig-1", NOW)
    state.claim("install", ROOT, NOW)
    state.complete("install", ROOT, {}, NOW)
    state.open_ready_tasks(NOW)
    state.timer_fired("cool", NOW)
    state.subprocess_started("handover", "CARE-000001", "care@1", NOW)
    state.subprocess_closed("handover", "closed", NOW)
    return [*state.events, *other_way, skip, snapshot_events[0]]


CONTRACT = [{"key": "capture", "kind": "file", "sensitivity": "confidential"}]
WITH_CONTRACT: dict[str, Any] = {
    **DEFINITION,
    "stages": [{"key": "fix", "title": "Fix", "group": "service-desk", "deliverables": CONTRACT}],
}


def deliverables_lifecycle() -> list[TicketEvent]:
    """A stage's confidential capture attached, then its contract amended."""
    definition = ProcessDefinition.model_validate(WITH_CONTRACT)
    state = TicketState.create(
        key="LAB-2", definition=definition, intake=INTAKE, requester=RITA, now=NOW
    )
    given = Submission(sha256="ab" * 32, size=3, media_type="text/plain", file_name="MARK-NAME")
    state.attach_deliverable("fix", "capture", ROOT, given, NOW)
    spec = DeliverableSpec(key="capture", kind="file", required=False)
    state.amend_contract("fix", ROOT, [spec], "MARK-REASON", NOW)
    return state.events[-2:]


COMMIT_CONTRACT = [{"key": "commit", "kind": "git_commit", "sensitivity": "confidential"}]
WITH_COMMIT: dict[str, Any] = {
    **DEFINITION,
    "stages": [
        {"key": "fix", "title": "Fix", "group": "service-desk", "deliverables": COMMIT_CONTRACT}
    ],
}
PUSHED = GitCommit(
    repository="MARK-REPO",
    repository_url="MARK-REPO-URL",
    sha="ab" * 20,
    url="MARK-COMMIT-URL",
    author=CommitAuthor(name="MARK-AUTHOR", email="MARK-EMAIL@example.com"),
    message="LAB-000003 MARK-MESSAGE",
)


def commits_lifecycle() -> list[TicketEvent]:
    """A pushed commit taken by a stage's confidential deliverable, then one no stage takes."""
    definition = ProcessDefinition.model_validate(WITH_COMMIT)
    state = TicketState.create(
        key="LAB-3", definition=definition, intake=INTAKE, requester=RITA, now=NOW
    )
    attached = state.attach_commit(PUSHED, "sig-1", NOW)
    referenced = state.attach_commit(PUSHED, "sig-2", NOW)
    return [*attached, *referenced]


def care_lifecycle() -> list[TicketEvent]:
    """Every step a care workflow records after close, each with every key it writes."""
    strategy = CareStrategy.model_validate(
        {
            "key": "after-repair",
            "version": 1,
            "rules": [
                {
                    "name": "all",
                    "actions": [{"action": "coupon", "delay": "P1D", "params": {"v": 1}}],
                }
            ],
        }
    )
    customer = Customer(id="C-1", name="MARK-CUSTOMER", tier="vip")
    [coupon] = plan_care(strategy, customer, ticket_context("LAB-1", "lab", {}, []), NOW)
    steps: list[tuple[str, dict[str, Any]]] = [
        ("care_started", started_data(strategy, [coupon])),
        (
            "care_action",
            action_data(
                coupon, "awaiting_confirmation", task="LAB-1:coupon", group="cc", deadline="x"
            ),
        ),
        ("care_action", action_data(coupon, "approved", task="t", by="carla", reason="MARK-WHY")),
        ("care_action", action_data(coupon, "sent", channel="webhook", status=202)),
        ("care_action", action_data(coupon, "stopped", task="t", revoked_at=NOW.isoformat())),
        ("care_action", action_data(coupon, "failed", error="ActionRefused: off the list")),
        ("care_ended", {"outcomes": {"coupon": "sent"}}),
    ]
    return [
        TicketEvent(seq=i, type=type_, at=NOW, actor="carla", data=data)
        for i, (type_, data) in enumerate(steps, start=90)
    ]


def recurrence_lifecycle() -> list[TicketEvent]:
    """A ticket filed as a recurrence of LAB-1, and LAB-1's watch: started, recurred, eradicated."""
    closed_at = NOW - timedelta(days=12)
    state = TicketState.create(
        key="LAB-3",
        definition=ProcessDefinition.model_validate(DEFINITION),
        intake=INTAKE,
        requester=RITA,
        now=NOW,
        recurrence_of=RecurrenceRef(key="LAB-1", closed_at=closed_at),
    )
    watch: list[TicketEvent] = []
    for seq, (step, by) in enumerate(
        (("started", None), ("recurred", "LAB-3"), ("eradicated", None)), start=20
    ):
        record = RecordRecurrenceInput(
            ticket_key="LAB-1",
            step=step,  # type: ignore[arg-type]
            at=NOW,
            closed_at=closed_at,
            ends_at=closed_at + timedelta(days=30),
            by=by,
        )
        type_, data = recurrence_event(record)
        watch.append(TicketEvent(seq=seq, type=type_, at=NOW, actor="system", data=data))
    return [e for e in state.events if e.type == "recurrence_of"] + watch


def test_recurrence_links_are_for_those_who_read_links(default_enforcer: Any) -> None:
    catalog = catalog_from_document(DEFINITION)
    access = access_control(default_enforcer)
    events = [_dump(e) for e in recurrence_lifecycle()]
    # The requester learns neither that someone else reported the same problem nor that
    # nobody did: only that the watch runs.
    rita = redact_events(events, view_of(access, "rita", catalog, groups=["service-desk"]))
    assert [e["type"] for e in rita] == ["recurrence_watch_started"]
    dana = redact_events(events, view_of(access, "dana", catalog))
    assert [e["type"] for e in dana] == [
        "recurrence_of",
        "recurrence_watch_started",
        "recurred",
        "eradicated",
    ]
    assert dana[0]["data"]["ticket"] == "LAB-1"
    assert dana[2]["data"]["by"] == "LAB-3"


SUE = Actor(user="sue", department="care-supervisors", role="agent")


def expedite_lifecycle() -> list[TicketEvent]:
    """Expedites the customer's sentiment proposed: one confirmed, one declined, one withdrawn."""
    definition = ProcessDefinition.model_validate(DEFINITION)
    state = TicketState.create(
        key="LAB-3", definition=definition, intake=INTAKE, requester=RITA, now=NOW
    )
    start = len(state.events)
    for decision in ("confirm", "decline"):
        proposed = state.propose_expedite(7, "care-supervisors", NOW)
        assert proposed is not None
        state.decide_expedite(proposed.data["proposal"], SUE, decision, "MARK-REASON", NOW)
    state.propose_expedite(8, "care-supervisors", NOW)
    state.withdraw_expedites(NOW)
    return state.events[start:]


def _dump(event: TicketEvent) -> dict[str, Any]:
    return event.model_dump(mode="json")


def test_the_lifecycle_covers_the_shapes_and_every_key_it_writes_is_declared() -> None:
    events = [
        *lifecycle(),
        *automated_lifecycle(),
        *deliverables_lifecycle(),
        *commits_lifecycle(),
        *care_lifecycle(),
        *recurrence_lifecycle(),
        *expedite_lifecycle(),
    ]
    assert {e.type for e in events} == set(EVENT_SHAPES) - {"comment_added/internal"}
    for event in events:
        shape = shape_of(_dump(event))
        assert shape is not None, event.type
        for key, value in event.data.items():
            assert key in shape.data, (event.type, key)
            rule = shape.data[key]
            if isinstance(rule, Fields) and isinstance(value, dict):
                assert set(value) <= set(rule.rules), (event.type, key)


def _markers(text: str) -> set[str]:
    return {w.strip("\"',:{}[]") for w in text.split() if "MARK-" in w}


def test_a_deliverable_shows_where_its_own_field_is_readable(default_enforcer: Any) -> None:
    catalog = catalog_from_document(WITH_CONTRACT)
    access = access_control(default_enforcer)
    events = [_dump(e) for e in deliverables_lifecycle()]
    # The requester reads internal fields of their ticket: the attachment happened, but not
    # what the confidential capture is; the amendment's reason is the handlers'.
    timeline = redact_events(events, view_of(access, "rita", catalog, groups=["service-desk"]))
    assert [e["data"].get("attached") for e in timeline] == [{}, None]
    assert _markers(repr(timeline)) == set()
    handler = view_of(access, "dana", catalog, groups=["service-desk"])
    shown = redact_events(events, handler)
    assert shown[0]["data"]["attached"]["capture"]["file_name"] == "MARK-NAME"
    assert shown[1]["data"]["reason"] == "MARK-REASON"


def test_a_pushed_commit_shows_where_its_deliverable_or_the_handlers_notes_are_readable(
    default_enforcer: Any,
) -> None:
    catalog = catalog_from_document(WITH_COMMIT)
    access = access_control(default_enforcer)
    events = [_dump(e) for e in commits_lifecycle()]
    assert [e["type"] for e in events] == ["deliverable_attached", "commit_referenced"]
    # The requester: that a commit came, and where it lives (an outside system's report),
    # but neither the confidential deliverable nor the developers' message and name.
    timeline = redact_events(events, view_of(access, "rita", catalog, groups=["service-desk"]))
    assert [e["actor"] for e in timeline] == ["git", "git"]
    assert timeline[0]["data"]["attached"] == {}
    assert _markers(repr(timeline)) == {"MARK-REPO", "MARK-REPO-URL", "MARK-COMMIT-URL"}
    handler = redact_events(events, view_of(access, "dana", catalog, groups=["service-desk"]))
    assert handler[0]["data"]["attached"]["commit"]["commit"]["message"].endswith("MARK-MESSAGE")
    assert handler[1]["data"]["author"] == {
        "name": "MARK-AUTHOR",
        "email": "MARK-EMAIL@example.com",
    }


def test_the_care_after_close_is_the_handlers_not_the_requesters(default_enforcer: Any) -> None:
    catalog = catalog_from_document(DEFINITION)
    access = access_control(default_enforcer)
    events = [_dump(e) for e in care_lifecycle()]
    # A stop tells of a revoked consent: `care` is confidential, beyond what a requester reads.
    assert redact_events(events, view_of(access, "rita", catalog, groups=["service-desk"])) == []
    shown = redact_events(events, view_of(access, "dana", catalog))
    assert [e["data"].get("outcome") for e in shown] == [
        None,
        "awaiting_confirmation",
        "approved",
        "sent",
        "stopped",
        "failed",
        None,
    ]
    assert shown[2]["actor"] == "carla"
    assert shown[2]["data"]["reason"] == "MARK-WHY"


def test_a_requester_sees_no_marker_of_a_field_they_may_not_read(default_enforcer: Any) -> None:
    catalog = catalog_from_document(DEFINITION)
    view = view_of(access_control(default_enforcer), "rita", catalog, groups=["service-desk"])
    timeline = redact_events([_dump(e) for e in lifecycle()], view)
    # Only what an outside system sent (ticket.external is internal, theirs to read) shows.
    assert _markers(repr(timeline)) == {"MARK-EXTERNAL"}
    types = [e["type"] for e in timeline]
    # Those they may read stay: the stage completion (without its fields), their own comment.
    assert "task_completed" in types
    assert "comment_added" in types
    completed = next(e for e in timeline if e["type"] == "task_completed")
    assert completed["data"]["form"] == {"note": "ok"}
    assert [e["data"]["body"] for e in timeline if e["type"] == "comment_added"] == ["hello"]
    # What the device said at creation is the handlers' (outputs), not the requester's.
    for triaged in (e for e in timeline if e["type"] == "triaged"):
        assert "live.temp" not in triaged["data"].get("ticket", {}).get("numbers", {})


def test_an_agent_of_the_department_sees_what_its_clearance_reaches(
    default_enforcer: Any,
) -> None:
    catalog = catalog_from_document(DEFINITION)
    view = view_of(access_control(default_enforcer), "dana", catalog)
    timeline = redact_events([_dump(e) for e in lifecycle()], view)
    assert "MARK-INTERNAL" in repr(timeline)  # internal comments are the handlers'
    assert "MARK-EXTERNAL" in repr(timeline)
    assert "MARK-SAM-TEXT" in repr(timeline)  # a linked report, for the handlers
    # Restricted form values are in no event, under whatever key they were copied.
    assert _markers(repr(timeline)) == {
        "MARK-INTERNAL",
        "MARK-EXTERNAL",
        "MARK-SAM",
        "MARK-SAM-TEXT",
    }
    triaged = next(e for e in timeline if e["type"] == "triaged")
    # The intake's restricted numbers stay hidden; the live reading is the handlers' (outputs).
    assert triaged["data"]["ticket"]["numbers"] == {"live.temp": 7.0}
    assert "top_features" not in triaged["data"]["result"]


def test_a_copy_is_shown_with_its_source(default_enforcer: Any) -> None:
    stages = [{k: v for k, v in s.items() if k != "form"} for s in DEFINITION["stages"]]
    document = {**DEFINITION, "intake_form": {"type": "object"}, "stages": stages}
    catalog = catalog_from_document(document)
    view = view_of(access_control(default_enforcer), "dana", catalog)
    triaged = next(e for e in lifecycle() if e.type == "triaged")
    shown = redact_event(_dump(triaged), view)
    assert shown is not None
    assert shown["data"]["ticket"]["description"] == "MARK-DESCRIPTION"
    assert shown["data"]["ticket"]["numbers"] == {"temperature_c": 71.25, "live.temp": 7.0}
    assert shown["data"]["ticket"]["fields"]["error_code"] == "MARK-ERROR"


@pytest.mark.parametrize(
    ("denied", "gone"),
    [
        ("priority", {"priority_changed"}),
        (
            "sla",
            {"sla_started", "sla_paused", "sla_rung_fired", "waiting_started", "waiting_ended"},
        ),
        ("tasks", {"task_opened", "task_claimed", "task_completed", "task_reassigned"}),
        ("triage", {"triaged", "triage_dispatched"}),
    ],
)
def test_events_about_a_denied_field_are_left_out(
    default_enforcer: Any, denied: str, gone: set[str]
) -> None:
    rule = ("role:agent", "*", f"ticket.{denied}", "read", "public", "deny")
    access = access_control(with_rules(default_enforcer, [rule]))
    view = view_of(access, "dana", catalog_from_document(DEFINITION))
    events = [_dump(e) for e in lifecycle()]
    shown = {e["type"] for e in redact_events(events, view)}
    assert shown & gone == set()
    assert gone <= {e["type"] for e in events}
    if denied == "priority":
        mention = {"sla_retargeted", "triage_dispatched"}
        assert mention <= {e["type"] for e in events}
        for event in redact_events(events, view):
            if event["type"] in mention:
                assert "priority" not in event["data"], event


def test_a_person_actor_needs_the_field_that_names_them(default_enforcer: Any) -> None:
    rule = ("role:agent", "*", "ticket.assignee", "read", "public", "deny")
    view = view_of(
        access_control(with_rules(default_enforcer, [rule])),
        "dana",
        catalog_from_document(DEFINITION),
    )
    timeline = redact_events([_dump(e) for e in lifecycle()], view)
    claimed = next(e for e in timeline if e["type"] == "task_claimed")
    assert "actor" not in claimed
    assert "assignee" not in claimed["data"]
    assert next(e for e in timeline if e["type"] == "sla_started")["actor"] == "sla"
    assert next(e for e in timeline if e["type"] == "created")["actor"] == "rita"


def test_undeclared_keys_and_unknown_types_carry_nothing(default_enforcer: Any) -> None:
    view = view_of(access_control(default_enforcer), "dana", catalog_from_document(DEFINITION))
    base = {"seq": 1, "at": "2026-12-01T09:00:00Z", "actor": "dana"}
    odd = redact_event({**base, "type": "task_claimed", "data": {"task": "t", "x": "MARK"}}, view)
    assert odd is not None
    assert odd["data"] == {"task": "t"}
    unknown = redact_event({**base, "type": "new_kind", "data": {"body": "MARK"}}, view)
    assert unknown == {"seq": 1, "at": "2026-12-01T09:00:00Z", "type": "new_kind"}
    # A comment not plainly marked public is an internal one.
    loose = {**base, "type": "comment_added", "data": {"body": "MARK", "internal": "no"}}
    rita = view_of(access_control(default_enforcer), "rita", catalog_from_document(DEFINITION))
    assert redact_event(loose, rita) is None


def test_triage_features_need_every_number_inside_the_device_objects() -> None:
    form = {
        "type": "object",
        "properties": {
            "device": {
                "type": "object",
                "properties": {"pin": {"type": "number", "x-sensitivity": "restricted"}},
            }
        },
    }
    view = views.view_of([("ticket.*", "read", "internal", "allow")], form)
    feature = {"feature": "device:pin", "weight": 4711.0}
    event = {
        **{"seq": 1, "type": "triaged", "at": "2026-12-01T09:00:00Z", "actor": "triage"},
        "data": {"result": {"team": "ops", "top_features": [feature]}},
    }
    shown = redact_event(event, view)
    assert shown is not None
    assert shown["data"]["result"] == {"team": "ops"}


def test_a_device_snapshot_is_the_handlers_and_its_device_id_the_intake_field(
    default_enforcer: Any,
) -> None:
    catalog = catalog_from_document(DEFINITION)
    control = access_control(default_enforcer)
    taken = [e for e in lifecycle() if e.type == "device_snapshot_taken"]
    requester = view_of(control, "rita", catalog, groups=["service-desk"])
    agent = view_of(control, "dana", catalog)
    assert redact_events([_dump(e) for e in taken], requester) == []
    (shown,) = redact_events([_dump(e) for e in taken], agent)
    # The counts and the seal are the handlers' (`outputs`); the id is the intake's field.
    assert shown["data"] == {
        "sha256": SNAPSHOT.sha256,
        "taken_at": NOW.isoformat(),
        "good": 1,
        "bad": 1,
    }
    open_form = {**DEFINITION, "key": "lab-open", "intake_form": {"type": "object"}}
    agent = view_of(control, "dana", catalog_from_document(open_form))
    (shown,) = redact_events([_dump(e) for e in taken], agent)
    assert shown["data"]["device_id"] == "MARK-DEVICE"
