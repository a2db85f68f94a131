"""The evidence trace through its declared shape, with the default policy: an auditor sees all
of it, the requester loses what she may not read (by value), a deny rule takes its parts away."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from domain.definitions import ProcessDefinition
from domain.deliverables import Submission
from domain.devices import Reading, Snapshot, seal
from domain.sla_clocks import sync_clocks
from domain.ticket import TicketState
from domain.trace import SnapshotRecord, TraceSources, VersionRecord, build_trace
from policies.catalog import catalog_from_document
from policies.trace import redact_trace
from tests.domain.tickets import NOW
from tests.security.policy import CALLERS, DEPARTMENT, access_control, view_of, with_rules

CAPTURE_SHA = "c" * 64
LOG_SHA = "1" * 64
DOCUMENT: dict[str, Any] = {
    "key": "evidence",
    "version": 1,
    "title": "Evidence",
    "key_prefix": "EV",
    "department": DEPARTMENT,
    "intake_form": {"type": "object", "properties": {"title": {"type": "string"}}},
    "sla": {"target": "PT8H", "pause_when": ["customer"]},
    "stages": [
        {
            "key": "collect",
            "title": "Collect",
            "group": DEPARTMENT,
            "deliverables": [
                {"key": "capture", "kind": "file", "sensitivity": "confidential"},
                {"key": "log", "kind": "file"},
            ],
        },
        {"key": "fix", "title": "Fix", "group": "ops", "depends_on": ["collect"]},
    ],
}
SNAPSHOT = seal(
    Snapshot(
        device_id="press-7",
        device_version=1,
        site="local",
        taken_at=NOW,
        readings=[Reading(point="temp", value=21.5)],
    )
)


def _at(minutes: int) -> Any:
    return NOW + timedelta(minutes=minutes)


def _life() -> TicketState:
    """Rita's ticket: a snapshot, the desk hands over a capture and a log, ops fixes it after
    a hold on the customer, an internal comment, closed."""
    definition = ProcessDefinition.model_validate(DOCUMENT)
    rita, dana, otto = CALLERS["rita"], CALLERS["dana"], CALLERS["otto"]
    state = TicketState.create(
        key="EV-1", definition=definition, intake={"title": "drops"}, requester=rita, now=NOW
    )
    sync_clocks(state, NOW)
    state.intake_snapshot_taken(SNAPSHOT, _at(1))
    state.claim("collect", dana, _at(2))
    for name, sha in (("capture", CAPTURE_SHA), ("log", LOG_SHA)):
        given = Submission(sha256=sha, size=10, media_type="text/plain", file_name=f"{name}.txt")
        state.attach_deliverable("collect", name, dana, given, _at(3))
    state.complete("collect", dana, {}, _at(4))
    state.open_ready_tasks(_at(4))
    state.claim("fix", otto, _at(10))
    state.start_waiting(otto.user, "customer", "", _at(11))
    sync_clocks(state, _at(11))
    state.end_waiting(otto.user, "", _at(21))
    sync_clocks(state, _at(21))
    state.comment(otto, "the router again", True, _at(22))
    state.complete("fix", otto, {}, _at(30))
    state.open_ready_tasks(_at(30))
    state.confirm(rita, "", _at(40))
    sync_clocks(state, _at(40))
    return state


def _trace() -> dict[str, Any]:
    state = _life()
    versions = [
        VersionRecord(
            stage=stage,
            deliverable=name,
            author=v.author,
            at=v.at,
            version=v.version,
            sha256=v.sha256 or "",
            size=v.size or 0,
            media_type=v.media_type or "",
            file_name=v.file_name or "",
        )
        for stage, deliverables in state.deliverables.items()
        for name, history in deliverables.items()
        for v in history
    ]
    stored = [SnapshotRecord(sha256=SNAPSHOT.sha256, document=SNAPSHOT.model_dump(mode="json"))]
    sources = TraceSources(
        key=state.key,
        definition=state.definition,
        events=state.events,
        versions=versions,
        snapshots=stored,
    )
    return build_trace(sources).model_dump(mode="json")


TRACE = _trace()
CATALOG = catalog_from_document(DOCUMENT)


def _shown(enforcer: Any, caller: str, rules: list[tuple[str, ...]] | None = None) -> Any:
    access = access_control(with_rules(enforcer, rules or []))
    view = view_of(access, caller, CATALOG, intake={"title": "drops"}, groups=["ops"])
    return redact_trace(TRACE, view)


def test_an_auditor_sees_the_whole_trace(default_enforcer: Any) -> None:
    assert _shown(default_enforcer, "audrey") == TRACE
    assert [d["deliverable"] for d in TRACE["data"]["deliverables"]] == ["capture", "log"]
    assert [s["sealed"] for s in TRACE["data"]["snapshots"]] == [True]


def test_the_requester_sees_it_without_what_she_may_not_read(default_enforcer: Any) -> None:
    shown = _shown(default_enforcer, "rita")
    text = json.dumps(shown)
    # The confidential capture and the snapshot (what automated stages brought in) are gone
    # by value; the internal log stays.
    assert CAPTURE_SHA not in text
    assert SNAPSHOT.sha256 not in text
    assert [d["deliverable"] for d in shown["data"]["deliverables"]] == ["log"]
    assert "snapshots" not in shown["data"]
    types = [t["type"] for t in shown["time"]["transitions"]]
    assert "device_snapshot_taken" not in types
    assert "comment_added" not in types  # the internal comment
    all_types = [t["type"] for t in TRACE["time"]["transitions"]]
    assert "device_snapshot_taken" in all_types
    assert "comment_added" in all_types
    # Her own ticket's stages, hold and hand-over are hers to read.
    assert [(s["stage"], s["seconds"]) for s in shown["time"]["stages"]] == [
        ("collect", 4 * 60.0),
        ("fix", 26 * 60.0),
    ]
    assert {w["kind"] for w in shown["time"]["waits"]} == {
        "claim",
        "on_hold",
        "sla_paused",
        "confirmation",
    }
    [handover] = shown["organisation"]["handovers"]
    assert (handover["from_group"], handover["to_group"]) == (DEPARTMENT, "ops")
    # Otto's internal comment is not among what she sees him do.
    otto = next(a for a in shown["organisation"]["actors"] if a["user"] == "otto")
    assert "comment_added" not in [a["type"] for a in otto["actions"]]


def test_a_deny_rule_takes_away_the_parts_it_gates(default_enforcer: Any) -> None:
    deny = [
        ("role:requester", "*", "ticket.sla", "read", "public", "deny"),
        ("role:requester", "*", "ticket.assignee", "read", "public", "deny"),
    ]
    shown = _shown(default_enforcer, "rita", deny)
    assert {w["kind"] for w in shown["time"]["waits"]} == {"claim", "confirmation"}
    assert not [t for t in shown["time"]["transitions"] if t["type"].startswith(("sla_", "wait"))]
    # Without `assignee` no handler is named: not among the actors, nor as who held a stage.
    text = json.dumps(shown)
    assert "otto" not in text
    assert "dana" not in text
    assert [a["user"] for a in shown["organisation"]["actors"]] == ["rita", "system"]


def test_without_the_timeline_there_are_no_transitions_and_no_actors(
    default_enforcer: Any,
) -> None:
    deny = [("role:requester", "*", "ticket.events", "read", "public", "deny")]
    shown = _shown(default_enforcer, "rita", deny)
    assert shown["time"]["transitions"] == []
    assert shown["organisation"]["actors"] == []
    assert shown["time"]["stages"]  # the spans are the tasks' own fields
