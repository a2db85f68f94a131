"""SLA clocks: ticket priority and waiting state, clocks, SLA events, notifications, calendars.

Revision ID: 0002_sla
Revises: 0001
Create Date: 2026-11-25 10:30:00
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002_sla"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    """Add the ticket's priority and wait, and the SLA, notification and calendar tables."""
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(
            sa.Column("priority", sa.String(length=2), server_default="P3", nullable=False)
        )
        batch.add_column(sa.Column("waiting_for", sa.String(length=63), nullable=True))
    op.create_table(
        "sla_clocks",
        sa.Column("ticket_key", sa.String(length=40), nullable=False),
        sa.Column("clock_id", sa.String(length=80), nullable=False),
        sa.Column("stage_key", sa.String(length=63), nullable=True),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("milestone", sa.Boolean(), nullable=False),
        sa.Column("calendar", sa.String(length=80), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("target_seconds", sa.Float(), nullable=False),
        sa.Column("started_at", _utc(), nullable=False),
        sa.Column("elapsed_seconds", sa.Float(), nullable=False),
        sa.Column("paused_seconds", sa.Float(), nullable=False),
        sa.Column("running_since", _utc(), nullable=True),
        sa.Column("paused_since", _utc(), nullable=True),
        sa.Column("stopped_at", _utc(), nullable=True),
        sa.Column("breached_at", _utc(), nullable=True),
        sa.Column("fired", _json(), nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["ticket_key"], ["tickets.key"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("ticket_key", "clock_id"),
    )
    op.create_index("ix_sla_clocks_state", "sla_clocks", ["state"])
    op.create_table(
        "sla_events",
        sa.Column("ticket_key", sa.String(length=40), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("clock_id", sa.String(length=80), nullable=False),
        sa.Column("type", sa.String(length=40), nullable=False),
        sa.Column("at", _utc(), nullable=False),
        sa.Column("rung", sa.Integer(), nullable=True),
        sa.Column("due_at", _utc(), nullable=True),
        sa.Column("data", _json(), nullable=False),
        sa.ForeignKeyConstraint(["ticket_key"], ["tickets.key"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("ticket_key", "seq"),
    )
    op.create_index("ix_sla_events_type_at", "sla_events", ["type", "at"])
    op.create_table(
        "notifications",
        sa.Column("ticket_key", sa.String(length=40), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("recipient", sa.String(length=120), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("channel", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("ticket_key", "seq", "recipient"),
    )
    op.create_index("ix_notifications_recipient_at", "notifications", ["recipient", "created_at"])
    op.create_table(
        "calendars",
        sa.Column("key", sa.String(length=63), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("document", _json(), nullable=False),
        sa.Column("published_at", _utc(), nullable=False),
        sa.Column("published_by", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("key", "version"),
    )


def downgrade() -> None:
    """Drop what upgrade added."""
    for table in ("calendars", "notifications", "sla_events", "sla_clocks"):
        op.drop_table(table)
    with op.batch_alter_table("tickets") as batch:
        batch.drop_column("waiting_for")
        batch.drop_column("priority")
