"""Triage: model registry, per-ticket outcomes, labels, duplicate reports.

Revision ID: 0003_triage
Revises: 0001
Create Date: 2026-11-25 10:20:00
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003_triage"
down_revision: str | Sequence[str] | None = "0002_sla"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create the triage tables."""
    op.create_table(
        "triage_models",
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("training_size", sa.Integer(), nullable=False),
        sa.Column("metrics", _json(), nullable=False),
        sa.Column("features", _json(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("version"),
    )
    op.create_index("ix_triage_models_status", "triage_models", ["status"])
    op.create_table(
        "triage_outcomes",
        sa.Column("ticket_key", sa.String(length=40), nullable=False),
        sa.Column("definition_key", sa.String(length=63), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("ticket", _json(), nullable=False),
        sa.Column("model_version", sa.Integer(), nullable=True),
        sa.Column("predicted_team", sa.String(length=100), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("category", sa.String(length=100), nullable=True),
        sa.Column("priority", sa.String(length=40), nullable=True),
        sa.Column("auto_routed", sa.Boolean(), nullable=False),
        sa.Column("first_team", sa.String(length=100), nullable=True),
        sa.Column("final_team", sa.String(length=100), nullable=True),
        sa.Column("reassignments", sa.Integer(), nullable=False),
        sa.Column("resolved_at", _utc(), nullable=True),
        sa.PrimaryKeyConstraint("ticket_key"),
    )
    op.create_index("ix_triage_outcomes_definition_key", "triage_outcomes", ["definition_key"])
    op.create_table(
        "triage_labels",
        sa.Column("ticket_key", sa.String(length=40), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("team", sa.String(length=100), nullable=False),
        sa.Column("category", sa.String(length=100), nullable=True),
        sa.Column("priority", sa.String(length=40), nullable=True),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("at", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("ticket_key", "seq"),
    )
    op.create_table(
        "duplicate_reports",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("ticket_key", sa.String(length=40), nullable=False),
        sa.Column("requester", sa.String(length=100), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("similarity", sa.Float(), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_duplicate_reports_ticket_key", "duplicate_reports", ["ticket_key"])


def downgrade() -> None:
    """Drop the triage tables."""
    op.drop_index("ix_duplicate_reports_ticket_key", table_name="duplicate_reports")
    op.drop_table("duplicate_reports")
    op.drop_table("triage_labels")
    op.drop_index("ix_triage_outcomes_definition_key", table_name="triage_outcomes")
    op.drop_table("triage_outcomes")
    op.drop_index("ix_triage_models_status", table_name="triage_models")
    op.drop_table("triage_models")
