"""The evidence trace as one caller may see it: every part by its declared shape.

The transitions are the ticket's events and go through their own shapes
(`policies.event_shapes`), so a transition shows exactly what the timeline shows of its event.
An actor is listed with the actions whose transition the caller sees with its actor; one with
none left is not listed. Every other part is declared below, per item where items differ (a
wait on the SLA needs `sla`, a wait for a claim `tasks`, a deliverable's version its own field
`deliverables.<key>`); what is not declared is not shown.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from policies.catalog import child_path
from policies.event_shapes import redact_events
from policies.redaction import FEEDBACK_SHAPE, KEEP, Each, FieldView, Gate, redact

SPAN_SHAPE: dict[str, Any] = {
    "task": KEEP,
    "stage": "tasks",
    "round": "tasks",
    "kind": "tasks",
    "group": "tasks",
    "status": "tasks",
    "opened_at": "tasks",
    "claimed_at": "tasks",
    "ended_at": "tasks",
    "completed_by": "assignee",
    "seconds": "tasks",
    "to_claim_seconds": "tasks",
}

# Each kind of wait is as readable as the events it is timed from.
WAIT_GATES: dict[str, tuple[str, ...]] = {
    "claim": ("tasks",),
    "signal": ("tasks",),
    "timer": ("tasks",),
    "child": ("tasks",),
    "confirmation": ("status",),
    "on_hold": ("sla",),
    "sla_paused": ("sla",),
}
WAIT_SHAPE: dict[str, Any] = {
    "kind": KEEP,
    "started_at": KEEP,
    "ended_at": KEEP,
    "seconds": KEEP,
    "outcome": KEEP,
    "task": KEEP,
    "stage": "tasks",
    "round": "tasks",
    "clock": "sla",
    "reason": "sla",
    "signal": "tasks",
}


def _wait_gate(wait: Mapping[str, Any]) -> tuple[str, ...] | None:
    return WAIT_GATES.get(str(wait.get("kind")))


ROUND_SHAPE: dict[str, Any] = {
    "round": KEEP,
    "started_at": KEEP,
    "resolved_at": KEEP,
    "ended_at": KEEP,
    "outcome": KEEP,
    "seconds": KEEP,
}
TIME_SHAPE: dict[str, Any] = {
    "created_at": "created_at",
    "closed_at": "closed_at",
    "seconds": Gate(("created_at", "closed_at")),
    "rounds": ("status", ROUND_SHAPE),
    "stages": ("tasks", SPAN_SHAPE),
    "waits": Each(_wait_gate, WAIT_SHAPE),
}

ACTION_SHAPE: dict[str, Any] = {
    "seq": KEEP,
    "type": KEEP,
    "at": KEEP,
    "stage": "tasks",
    "round": "tasks",
    "group": "tasks",
}
# Shown with the actor's name: what their account says of them.
ACTOR_SHAPE: dict[str, Any] = {
    "user": KEEP,
    "kind": KEEP,
    "department": KEEP,
    "role": KEEP,
    "groups": "tasks",
}
DEPARTMENT_SHAPE: dict[str, Any] = {
    "department": KEEP,
    "stages": ("tasks", {"stage": KEEP, "round": KEEP, "seconds": KEEP}),
    "people": "assignee",
    "seconds": KEEP,
}
HANDOVER_SHAPE: dict[str, Any] = {
    key: KEEP
    for key in (
        *("kind", "from_group", "to_group", "from_stage", "to_stage"),
        *("from_round", "to_round", "left_at", "arrived_at", "gap_seconds"),
    )
}
ORGANISATION_SHAPE: dict[str, Any] = {
    "departments": ("tasks", DEPARTMENT_SHAPE),
    "handovers": ("tasks", HANDOVER_SHAPE),
}

VERSION_SHAPE: dict[str, Any] = {
    **{
        key: KEEP
        for key in (
            *("stage", "deliverable", "version", "sha256", "size", "media_type"),
            *("file_name", "at", "value"),
        )
    },
    # A person's name, as the actor of the `deliverable_attached` event.
    "author": "assignee",
}


def _version_gate(version: Mapping[str, Any]) -> tuple[str, ...]:
    # Like reading the version itself: its deliverable's own field.
    return ("deliverables", child_path("deliverables", str(version.get("deliverable"))))


# A snapshot is what an automated stage brought in, as its `device_snapshot_taken` event.
SNAPSHOT_SHAPE: dict[str, Any] = {
    "device_id": Gate(("outputs",), if_declared=("device_id",)),
    "sha256": KEEP,
    "taken_at": KEEP,
    "good": KEEP,
    "bad": KEEP,
    "task": KEEP,
    "stage": "tasks",
    "stored": KEEP,
    "sealed": KEEP,
}
DATA_SHAPE: dict[str, Any] = {
    "deliverables": Each(_version_gate, VERSION_SHAPE),
    "snapshots": ("outputs", SNAPSHOT_SHAPE),
    # Shown like the rating on the ticket itself: its fields are `feedback` and its comment.
    "rating": ("feedback", FEEDBACK_SHAPE),
}


def _actors(organisation: Mapping[str, Any], named: set[int], view: FieldView) -> list[Any]:
    """Each actor with the actions the caller sees them do."""
    shown = []
    for actor in organisation.get("actors", []):
        actions = [
            redact(a, view, ACTION_SHAPE) for a in actor.get("actions", []) if a.get("seq") in named
        ]
        if actions:
            shown.append({**redact(actor, view, ACTOR_SHAPE), "actions": actions})
    return shown


def redact_trace(trace: Mapping[str, Any], view: FieldView) -> dict[str, Any]:
    """A trace document (`domain.trace.Trace` as JSON) as this caller may see it."""
    time, organisation = trace.get("time", {}), trace.get("organisation", {})
    events = time.get("transitions", []) if view.readable("events") else []
    transitions = redact_events(events, view)
    named = {int(t["seq"]) for t in transitions if "actor" in t}
    return {
        "key": trace["key"],
        "time": {**redact(time, view, TIME_SHAPE), "transitions": transitions},
        "organisation": {
            **redact(organisation, view, ORGANISATION_SHAPE),
            "actors": _actors(organisation, named, view),
        },
        "data": redact(trace.get("data", {}), view, DATA_SHAPE),
    }
