"""Builders for the domain objects the projection stores."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from domain.ticket import Task, TaskStatus, TicketEvent, TicketSnapshot, TicketStatus

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def task(ticket_key: str, stage: str = "fix", **changes: Any) -> Task:
    """An open first-round task of a stage, with any field overridden."""
    fields: dict[str, Any] = {
        "id": f"{ticket_key}:{stage}:1",
        "stage_key": stage,
        "title": stage.title(),
        "group": "it-ops",
        "status": TaskStatus.OPEN,
        "opened_at": T0,
    }
    fields.update(changes)
    return Task(**fields)


def snapshot(key: str, last_seq: int = 1, **changes: Any) -> TicketSnapshot:
    """An open ticket created at T0 with one open task, with any field overridden."""
    fields: dict[str, Any] = {
        "key": key,
        "definition_key": "it-incident",
        "definition_version": 1,
        "department": "it-ops",
        "title": f"Ticket {key}",
        "status": TicketStatus.OPEN,
        "requester": "alice",
        "intake": {"summary": "printer jammed", "floor": 3},
        "created_at": T0,
        "updated_at": T0 + timedelta(minutes=last_seq),
        "resolved_at": None,
        "closed_at": None,
        "last_seq": last_seq,
        "tasks": [task(key)],
    }
    fields.update(changes)
    return TicketSnapshot(**fields)


def event(seq: int, type_: str = "comment_added", **data: Any) -> TicketEvent:
    """The event with this sequence number."""
    return TicketEvent(
        seq=seq, type=type_, at=T0 + timedelta(minutes=seq), actor="alice", data=data
    )
