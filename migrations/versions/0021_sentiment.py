"""Sentiment: the model registry, customers' messages with their scores, and purges.

Revision ID: 0021_sentiment
Revises: 0020_outbox
Create Date: 2026-12-19 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0021_sentiment"
down_revision: str | Sequence[str] | None = "0020_outbox"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create the sentiment tables (the existing customer rules already cover their fields)."""
    op.create_table(
        "sentiment_models",
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("training_size", sa.Integer(), nullable=False),
        sa.Column("metrics", _json(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("version"),
    )
    op.create_index("ix_sentiment_models_status", "sentiment_models", ["status"])
    op.create_table(
        "sentiment_records",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("customer_id", sa.String(length=80), nullable=False),
        sa.Column("ticket_key", sa.String(length=40), nullable=True),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("taken_at", _utc(), nullable=False),
        sa.Column("purge_at", _utc(), nullable=False),
        sa.Column("label", sa.String(length=20), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("probabilities", _json(), nullable=True),
        sa.Column("model_version", sa.Integer(), nullable=True),
        sa.Column("scored_at", _utc(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_sentiment_records_customer_id", "sentiment_records", ["customer_id"])
    op.create_index("ix_sentiment_records_purge_at", "sentiment_records", ["purge_at"])
    op.create_table(
        "sentiment_purges",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("customer_id", sa.String(length=80), nullable=False),
        sa.Column("reason", sa.String(length=20), nullable=False),
        sa.Column("at", _utc(), nullable=False),
        sa.Column("deleted", sa.Integer(), nullable=False),
        sa.Column("scored", sa.Integer(), nullable=False),
        sa.Column("records", _json(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_sentiment_purges_customer_id", "sentiment_purges", ["customer_id"])


def downgrade() -> None:
    """Drop the tables (their indexes go with them)."""
    op.drop_table("sentiment_purges")
    op.drop_table("sentiment_records")
    op.drop_table("sentiment_models")
