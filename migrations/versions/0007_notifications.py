"""Notifications keep what they say as parts, so each reader's text is rendered for them.

Revision ID: 0007_notifications
Revises: 0006_sandboxes
Create Date: 2026-12-01 09:00:00
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007_notifications"
down_revision: str | Sequence[str] | None = "0006_sandboxes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    """Add the parts column; earlier rows keep NULL (their subject ends with the title)."""
    with op.batch_alter_table("notifications") as batch:
        batch.add_column(sa.Column("parts", _json(), nullable=True))


def downgrade() -> None:
    """Drop the parts column."""
    with op.batch_alter_table("notifications") as batch:
        batch.drop_column("parts")
