"""Deliverable versions: the metadata of what task stages handed over.

Revision ID: 0014_deliverables
Revises: 0012_devices
Create Date: 2026-12-01 15:30:00
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0014_deliverables"
down_revision: str | Sequence[str] | None = "0012_devices"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    """Create the deliverable_versions table."""
    op.create_table(
        "deliverable_versions",
        sa.Column("ticket_key", sa.String(length=40), nullable=False),
        sa.Column("stage", sa.String(length=63), nullable=False),
        sa.Column("deliverable", sa.String(length=63), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("media_type", sa.String(length=255), nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=False),
        sa.Column("author", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("value", _json(), nullable=True),
        sa.PrimaryKeyConstraint("ticket_key", "stage", "deliverable", "version"),
    )
    op.create_index(
        "ix_deliverable_versions_sha256", "deliverable_versions", ["sha256"], unique=False
    )


def downgrade() -> None:
    """Drop the deliverable_versions table."""
    op.drop_index("ix_deliverable_versions_sha256", table_name="deliverable_versions")
    op.drop_table("deliverable_versions")
