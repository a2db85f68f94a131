"""Automated stages in the projection: when a wait or timer ends, a subprocess's child, why a
service stage failed, and a child ticket's parent.

Revision ID: 0011_process_runtime
Revises: 0010_participants
Create Date: 2026-12-15 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_process_runtime"
down_revision: str | Sequence[str] | None = "0010_participants"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the nullable columns; rows projected before have none of these."""
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(sa.Column("until", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("child", sa.String(40), nullable=True))
        batch.add_column(sa.Column("error", sa.Text(), nullable=True))
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(sa.Column("parent_key", sa.String(40), nullable=True))
        batch.create_index("ix_tickets_parent_key", ["parent_key"])


def downgrade() -> None:
    """Drop the columns."""
    with op.batch_alter_table("tickets") as batch:
        batch.drop_index("ix_tickets_parent_key")
        batch.drop_column("parent_key")
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("error")
        batch.drop_column("child")
        batch.drop_column("until")
