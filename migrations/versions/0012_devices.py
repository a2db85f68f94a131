"""The device registry: versioned device documents, and the snapshots taken of them.

Revision ID: 0012_devices
Revises: 0011_process_runtime
Create Date: 2026-12-16 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0012_devices"
down_revision: str | Sequence[str] | None = "0011_process_runtime"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create the devices and device_snapshots tables."""
    op.create_table(
        "devices",
        sa.Column("device_id", sa.String(length=80), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("site", sa.String(length=40), nullable=False),
        sa.Column("model", sa.String(length=80), nullable=False),
        sa.Column("protocol", sa.String(length=20), nullable=False),
        sa.Column("document", _json(), nullable=False),
        sa.Column("registered_at", _utc(), nullable=False),
        sa.Column("registered_by", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("device_id", "version"),
    )
    op.create_index("ix_devices_site", "devices", ["site"])
    op.create_table(
        "device_snapshots",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("device_id", sa.String(length=80), nullable=False),
        sa.Column("device_version", sa.Integer(), nullable=False),
        sa.Column("site", sa.String(length=40), nullable=False),
        sa.Column("taken_at", _utc(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("document", _json(), nullable=False),
        sa.Column("ticket_key", sa.String(length=40), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_device_snapshots_device_id", "device_snapshots", ["device_id"])
    op.create_index("ix_device_snapshots_taken_at", "device_snapshots", ["taken_at"])


def downgrade() -> None:
    """Drop both tables (their indexes go with them)."""
    op.drop_table("device_snapshots")
    op.drop_table("devices")
