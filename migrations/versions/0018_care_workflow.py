"""The care workflow: its runs, each step it recorded, and its confirmation tasks.

Revision ID: 0018_care_workflow
Revises: 0017_problems
Create Date: 2026-12-20 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0018_care_workflow"
down_revision: str | Sequence[str] | None = "0017_problems"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create the care_runs, care_records and care_tasks tables."""
    op.create_table(
        "care_runs",
        sa.Column("ticket_key", sa.String(length=40), nullable=False),
        sa.Column("customer_id", sa.String(length=80), nullable=False),
        sa.Column("strategy", sa.String(length=80), nullable=False),
        sa.Column("started_at", _utc(), nullable=False),
        sa.Column("ended_at", _utc(), nullable=True),
        sa.PrimaryKeyConstraint("ticket_key"),
    )
    op.create_index("ix_care_runs_customer_id", "care_runs", ["customer_id"])
    op.create_table(
        "care_records",
        sa.Column("ticket_key", sa.String(length=40), nullable=False),
        sa.Column("care_seq", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.String(length=80), nullable=False),
        sa.Column("ticket_seq", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=40), nullable=False),
        sa.Column("at", _utc(), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("data", _json(), nullable=False),
        sa.PrimaryKeyConstraint("ticket_key", "care_seq"),
    )
    op.create_index("ix_care_records_customer_at", "care_records", ["customer_id", "at"])
    op.create_table(
        "care_tasks",
        sa.Column("id", sa.String(length=120), nullable=False),
        sa.Column("ticket_key", sa.String(length=40), nullable=False),
        sa.Column("customer_id", sa.String(length=80), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("rule", sa.String(length=80), nullable=False),
        sa.Column("group_name", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("opened_at", _utc(), nullable=False),
        sa.Column("deadline", _utc(), nullable=False),
        sa.Column("decided_by", sa.String(length=100), nullable=True),
        sa.Column("decided_at", _utc(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("care_seq", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_care_tasks_ticket_key", "care_tasks", ["ticket_key"])
    op.create_index("ix_care_tasks_group_status", "care_tasks", ["group_name", "status"])


def downgrade() -> None:
    """Drop the tables (their indexes go with them)."""
    op.drop_table("care_tasks")
    op.drop_table("care_records")
    op.drop_table("care_runs")
