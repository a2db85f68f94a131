"""Customer feedback: one CSAT/NPS rating per closed ticket, bound to its solution.

Revision ID: 0016_feedback
Revises: 0015_care
Create Date: 2026-12-20 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0016_feedback"
down_revision: str | Sequence[str] | None = "0015_care"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    """Create the feedback table; its primary key lets a ticket be rated once."""
    op.create_table(
        "feedback",
        sa.Column("ticket_key", sa.String(length=40), nullable=False),
        sa.Column("csat", sa.Integer(), nullable=False),
        sa.Column("nps", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("given_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stage", sa.String(length=63), nullable=True),
        sa.Column("team", sa.String(length=100), nullable=True),
        sa.Column("deliverables", _json(), nullable=False),
        sa.Column("playbook", sa.String(length=200), nullable=True),
        sa.Column("idempotency_sha256", sa.String(length=64), nullable=True),
        sa.Column("request_sha256", sa.String(length=64), nullable=False),
        sa.CheckConstraint("csat BETWEEN 1 AND 5", name="ck_feedback_csat"),
        sa.CheckConstraint("nps BETWEEN 0 AND 10", name="ck_feedback_nps"),
        sa.ForeignKeyConstraint(["ticket_key"], ["tickets.key"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("ticket_key"),
    )
    op.create_index("ix_feedback_given_at", "feedback", ["given_at"])
    op.create_index("ix_feedback_team", "feedback", ["team"])


def downgrade() -> None:
    """Drop the table (its indexes go with it)."""
    op.drop_table("feedback")
