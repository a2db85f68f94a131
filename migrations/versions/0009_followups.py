"""Follow-up tasks: a `kind` on task rows, `stage` or `followup`.

An SLA escalation's follow-up used to be a task row whose stage key started with `esc-`; those
rows become follow-ups.

Revision ID: 0009_followups
Revises: 0008_typed_subjects
Create Date: 2026-12-01 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_followups"
down_revision: str | Sequence[str] | None = "0008_typed_subjects"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the kind column; escalation rows of before are follow-ups."""
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(sa.Column("kind", sa.String(20), nullable=False, server_default="stage"))
    op.execute("UPDATE tasks SET kind = 'followup' WHERE stage_key LIKE 'esc-%'")


def downgrade() -> None:
    """Drop the kind column."""
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("kind")
