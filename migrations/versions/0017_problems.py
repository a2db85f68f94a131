"""Problem records proposed from co-occurring symptoms, and the tickets each links.

Revision ID: 0017_problems
Revises: 0016_feedback
Create Date: 2026-12-01 18:40:00
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0017_problems"
down_revision: str | Sequence[str] | None = "0016_feedback"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create the problem and problem-ticket tables."""
    op.create_table(
        "problems",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("fingerprint", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("candidate", _json(), nullable=False),
        sa.Column("proposed_at", _utc(), nullable=False),
        sa.Column("updated_at", _utc(), nullable=False),
        sa.Column("decided_by", sa.String(length=100), nullable=True),
        sa.Column("decided_at", _utc(), nullable=True),
        sa.Column("reason", sa.String(length=2000), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("fingerprint"),
    )
    op.create_index("ix_problems_status", "problems", ["status"])
    op.create_table(
        "problem_tickets",
        sa.Column("problem_id", sa.Integer(), nullable=False),
        sa.Column("ticket_key", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(["problem_id"], ["problems.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("problem_id", "ticket_key"),
    )
    op.create_index("ix_problem_tickets_ticket_key", "problem_tickets", ["ticket_key"])


def downgrade() -> None:
    """Drop both tables."""
    op.drop_index("ix_problem_tickets_ticket_key", table_name="problem_tickets")
    op.drop_table("problem_tickets")
    op.drop_index("ix_problems_status", table_name="problems")
    op.drop_table("problems")
