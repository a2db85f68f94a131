"""Ticket participants: the groups that held a ticket's tasks and the people who worked it.

Where a task is now says nothing of where it was: a task the SLA or an agent moved to another
group used to take the ticket away from the group and the person who had it. The table is
filled from the events already recorded (the same reading as store.projection, frozen here).

Revision ID: 0010_participants
Revises: 0009_followups
Create Date: 2026-12-01 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_participants"
down_revision: str | Sequence[str] | None = "0009_followups"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TASK_EVENTS = (
    "task_opened",
    "task_claimed",
    "task_unclaimed",
    "task_completed",
    "task_reassigned",
)


def _participants(type_: str, actor: str, data: dict[str, object]) -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    if type_ == "waiting_started":
        found.add(("user", actor))
    if type_ not in _TASK_EVENTS:
        return found
    before = data.get("before")
    for holder in (data, before if isinstance(before, dict) else {}):
        group, assignee = holder.get("group"), holder.get("assignee")
        if isinstance(group, str) and group:
            found.add(("group", group))
        if isinstance(assignee, str) and assignee:
            found.add(("user", assignee))
    if type_ in ("task_claimed", "task_completed"):
        found.add(("user", actor))
    return found


def upgrade() -> None:
    """Create the table and fill it from the recorded events."""
    table = op.create_table(
        "ticket_participants",
        sa.Column(
            "ticket_key",
            sa.String(length=40),
            sa.ForeignKey("tickets.key", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("kind", sa.String(length=10), primary_key=True),
        sa.Column("name", sa.String(length=100), primary_key=True),
    )
    op.create_index("ix_ticket_participants_kind_name", "ticket_participants", ["kind", "name"])
    if op.get_context().as_sql:
        return  # offline SQL: there are no recorded events to read
    events = sa.table(
        "ticket_events",
        sa.column("ticket_key", sa.String),
        sa.column("type", sa.String),
        sa.column("actor", sa.String),
        sa.column("data", sa.JSON),
    )
    bind = op.get_bind()
    found: set[tuple[str, str, str]] = set()
    query = sa.select(events).where(events.c.type.in_((*_TASK_EVENTS, "waiting_started")))
    for key, type_, actor, data in bind.execute(query):
        found |= {(key, kind, name) for kind, name in _participants(type_, actor, data or {})}
    if found:
        op.bulk_insert(table, [{"ticket_key": k, "kind": t, "name": n} for k, t, n in found])


def downgrade() -> None:
    """Drop the table."""
    op.drop_index("ix_ticket_participants_kind_name", table_name="ticket_participants")
    op.drop_table("ticket_participants")
