"""The one redaction function every exit uses, and the write check every change uses."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from policies.catalog import FieldCatalog
from policies.decisions import Decision


@dataclass
class FieldView:
    """What one caller may read, see masked and write on one ticket."""

    decisions: tuple[Decision, ...]
    catalog: FieldCatalog
    role: str = ""

    def _allows(self, name: str, act: str) -> bool:
        # A ticket belongs to its department and every department with a task on it: a
        # field is granted if the policy grants it in any of them.
        sensitivity = self.catalog.spec(name).sensitivity
        obj = "ticket." + name
        return any(d.allows(obj, act, sensitivity) for d in self.decisions)

    def readable(self, name: str) -> bool:
        """Whether the caller sees this field in clear."""
        return self._allows(name, "read")

    def masked(self, name: str) -> bool:
        """Whether the caller sees this field masked (not readable, maskable, read_masked)."""
        return (
            self.catalog.spec(name).maskable
            and not self.readable(name)
            and self._allows(name, "read_masked")
        )

    def writable(self, name: str) -> bool:
        """Whether the caller may write this field."""
        return self._allows(name, "write")

    def visible(self) -> bool:
        """Whether the caller may see the ticket at all (some field of it is readable)."""
        return any(self.readable(n) or self.masked(n) for n in self.catalog.fields)


def mask(value: Any) -> str:
    """A masked rendering: first three and last four characters of long values (138****5678)."""
    text = value if isinstance(value, str) else str(value)
    if len(text) < 8:
        return "*" * len(text)
    return text[:3] + "*" * (len(text) - 7) + text[-4:]


KEEP = "*keep*"
FORM = "*form*"
FREEFORM = "*freeform*"

# Keys of free-form event data that carry a system field.
_EVENT_KEYS = {
    "assignee": "assignee",
    "title": "title",
    "body": "comments",
    "payload": "external",
    "requester": "requester",
    "priority": "priority",
    "result": "triage",  # the model's answer in a `triaged` event
    "related": "links",  # the other ticket of a `possible_duplicate` event
}

TASK_SHAPE: dict[str, Any] = {
    "id": KEEP,
    "ticket_key": KEEP,
    "stage_key": "tasks",
    "title": "tasks",
    "group": "tasks",
    "status": "tasks",
    "assignee": "assignee",
    "round": "tasks",
    "opened_at": "tasks",
    "claimed_at": "tasks",
    "completed_at": "tasks",
    "completed_by": "assignee",
    "data": FORM,
}

TICKET_SHAPE: dict[str, Any] = {
    "key": KEEP,
    "definition_key": "definition",
    "definition_version": "definition",
    "department": "department",
    "title": "title",
    "status": "status",
    "requester": "requester",
    "created_at": "created_at",
    "updated_at": "updated_at",
    "resolved_at": "resolved_at",
    "closed_at": "closed_at",
    "last_seq": "last_seq",
    "priority": "priority",
    "sla": "sla",
    "waiting_for": "sla",  # a wait is what pauses the SLA clocks
    "intake": FORM,
    "tasks": ("tasks", TASK_SHAPE),
}

EVENT_SHAPE: dict[str, Any] = {
    "seq": KEEP,
    "type": KEEP,
    "at": KEEP,
    "actor": KEEP,
    "data": FREEFORM,
}


def _reveal(view: FieldView, name: str, value: Any, out: dict[str, Any], key: str) -> None:
    if view.readable(name):
        out[key] = value
    elif view.masked(name):
        out[key] = mask(value)


def _form(view: FieldView, data: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if isinstance(data, Mapping):
        for name, value in data.items():
            _reveal(view, name, value, out, name)
    return out


def _freeform(view: FieldView, data: Any) -> Any:
    if not isinstance(data, Mapping):
        return data
    out: dict[str, Any] = {}
    internal = data.get("internal") is True  # an internal comment is for handling groups
    for key, value in data.items():
        if view.catalog.form_field(key):
            _reveal(view, key, value, out, key)
        elif key == "body" and internal:
            _reveal(view, "internal_comments", value, out, key)
        elif key in _EVENT_KEYS:
            _reveal(view, _EVENT_KEYS[key], value, out, key)
        else:
            out[key] = _freeform(view, value)
    return out


def redact(
    document: Mapping[str, Any], view: FieldView, shape: Mapping[str, Any]
) -> dict[str, Any]:
    """The document as this caller may see it: denied fields absent, maskable ones masked.

    Keys the shape does not name are dropped, so a new column stays hidden until it is
    given a field.
    """
    out: dict[str, Any] = {}
    for key, value in document.items():
        rule = shape.get(key)
        if rule is None:
            continue
        if rule == KEEP:
            out[key] = value
        elif rule == FORM:
            out[key] = _form(view, value)
        elif rule == FREEFORM:
            out[key] = _freeform(view, value)
        elif isinstance(rule, tuple):
            gate, inner = rule
            if view.readable(gate):
                out[key] = [redact(item, view, inner) for item in value]
        else:
            _reveal(view, rule, value, out, key)
    return out


def denied_writes(view: FieldView, fields: Iterable[str]) -> list[str]:
    """The fields among these that the caller may not write, sorted."""
    return sorted({name for name in fields if not view.writable(name)})
