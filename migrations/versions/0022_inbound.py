"""Connectors: inbound events seen per connector, and subscription kinds (webhook, mqtt).

Revision ID: 0022_inbound
Revises: 0021_sentiment
Create Date: 2026-12-01 22:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022_inbound"
down_revision: str | Sequence[str] | None = "0021_sentiment"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create inbound_events; give subscriptions a kind and an MQTT topic."""
    op.create_table(
        "inbound_events",
        sa.Column("connector", sa.String(length=63), nullable=False),
        sa.Column("event_id", sa.String(length=200), nullable=False),
        sa.Column("correlation", sa.String(length=200), nullable=False),
        sa.Column("ticket_key", sa.String(length=40), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("connector", "event_id"),
    )
    op.create_index("ix_inbound_events_correlation", "inbound_events", ["connector", "correlation"])
    op.add_column(
        "subscriptions",
        sa.Column("kind", sa.String(length=20), nullable=False, server_default="webhook"),
    )
    op.add_column("subscriptions", sa.Column("topic", sa.Text(), nullable=True))


def downgrade() -> None:
    """Drop them again."""
    with op.batch_alter_table("subscriptions") as batch:
        batch.drop_column("topic")
        batch.drop_column("kind")
    op.drop_index("ix_inbound_events_correlation", table_name="inbound_events")
    op.drop_table("inbound_events")
