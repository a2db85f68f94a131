"""Recurrence watches, remediation playbooks, and the ticket's category.

Revision ID: 0019_recurrence
Revises: 0018_care_workflow
Create Date: 2026-12-20 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019_recurrence"
down_revision: str | Sequence[str] | None = "0018_care_workflow"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add tickets.category and the recurrence_watches and playbooks tables."""
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(sa.Column("category", sa.String(length=100), nullable=True))
        batch.create_index("ix_tickets_category", ["category"], unique=False)
    op.create_table(
        "recurrence_watches",
        sa.Column("ticket_key", sa.String(length=40), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("recurred_by", sa.String(length=40), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("started_seq", sa.Integer(), nullable=False),
        sa.Column("outcome_seq", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["ticket_key"], ["tickets.key"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("ticket_key"),
    )
    op.create_index(
        "ix_recurrence_watches_fingerprint_status",
        "recurrence_watches",
        ["fingerprint", "status"],
        unique=False,
    )
    op.create_table(
        "playbooks",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("category", sa.String(length=100), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("ticket_key", sa.String(length=40), nullable=False),
        sa.Column("stage", sa.String(length=63), nullable=False),
        sa.Column("deliverable", sa.String(length=63), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("language", sa.String(length=40), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("media_type", sa.String(length=255), nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_playbooks_category", "playbooks", ["category"], unique=False)
    op.create_index(
        "ix_playbooks_source",
        "playbooks",
        ["ticket_key", "stage", "deliverable", "version"],
        unique=True,
    )


def downgrade() -> None:
    """Drop the playbooks and recurrence_watches tables and tickets.category."""
    op.drop_index("ix_playbooks_source", table_name="playbooks")
    op.drop_index("ix_playbooks_category", table_name="playbooks")
    op.drop_table("playbooks")
    op.drop_index("ix_recurrence_watches_fingerprint_status", table_name="recurrence_watches")
    op.drop_table("recurrence_watches")
    with op.batch_alter_table("tickets") as batch:
        batch.drop_index("ix_tickets_category")
        batch.drop_column("category")
