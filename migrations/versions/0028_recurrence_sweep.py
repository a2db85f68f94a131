"""The recurrence sweep's index: watches still watching, by the end of their window.

Revision ID: 0028_recurrence_sweep
Revises: 0027_ticket_departments
Create Date: 2026-12-02 01:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0028_recurrence_sweep"
down_revision: str | Sequence[str] | None = "0027_ticket_departments"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Index the watches by status and window end, the sweep's one lookup."""
    op.create_index(
        "ix_recurrence_watches_status_ends_at", "recurrence_watches", ["status", "ends_at"]
    )


def downgrade() -> None:
    """Drop the sweep's index."""
    op.drop_index("ix_recurrence_watches_status_ends_at", table_name="recurrence_watches")
