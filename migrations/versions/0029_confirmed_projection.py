"""A ticket's projected events that its workflow's history is known to hold.

Revision ID: 0029_confirmed_projection
Revises: 0028_recurrence_sweep
Create Date: 2026-12-02 01:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0029_confirmed_projection"
down_revision: str | Sequence[str] | None = "0028_recurrence_sweep"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the two watermarks; rows projected before them count as confirmed."""
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(
            sa.Column("committed_seq", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(
            sa.Column("confirmed_seq", sa.Integer(), nullable=False, server_default="0")
        )
    # Everything projected so far was sent out at once: it stays visible.
    op.execute("UPDATE tickets SET committed_seq = last_seq, confirmed_seq = last_seq")


def downgrade() -> None:
    """Drop the watermarks."""
    with op.batch_alter_table("tickets") as batch:
        batch.drop_column("confirmed_seq")
        batch.drop_column("committed_seq")
