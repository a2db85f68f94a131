"""Usage metering: who took an on-demand device snapshot, which ticket a delivery carried.

Revision ID: 0024_usage
Revises: 0021_sentiment
Create Date: 2026-12-20 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024_usage"
down_revision: str | Sequence[str] | None = "0022_inbound"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the attribution columns; attempts already kept get their ticket from the outbox."""
    with op.batch_alter_table("device_snapshots") as batch:
        batch.add_column(sa.Column("taken_by", sa.String(100), nullable=True))
        batch.add_column(sa.Column("department", sa.String(100), nullable=True))
    with op.batch_alter_table("delivery_attempts") as batch:
        batch.add_column(sa.Column("ticket_key", sa.String(40), nullable=True))
    # An event id is `<ticket key>-<seq>` (domain.events_out.event_id), the outbox row's pair.
    op.execute(
        "UPDATE delivery_attempts SET ticket_key = (SELECT o.ticket_key FROM outbox o "
        "WHERE o.ticket_key || '-' || CAST(o.seq AS VARCHAR) = delivery_attempts.event_id)"
    )


def downgrade() -> None:
    """Drop the attribution columns."""
    with op.batch_alter_table("delivery_attempts") as batch:
        batch.drop_column("ticket_key")
    with op.batch_alter_table("device_snapshots") as batch:
        batch.drop_column("department")
        batch.drop_column("taken_by")
