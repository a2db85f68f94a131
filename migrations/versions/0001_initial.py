"""Initial schema: definitions, forms, ticket/task/event projections, users, keys.

Revision ID: 0001
Revises:
Create Date: 2026-11-25 08:07:35
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create every table and index of store.models."""
    op.create_table(
        "definitions",
        sa.Column("key", sa.String(length=63), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("department", sa.String(length=100), nullable=False),
        sa.Column("key_prefix", sa.String(length=10), nullable=False),
        sa.Column("document", _json(), nullable=False),
        sa.Column("published_at", _utc(), nullable=False),
        sa.Column("published_by", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("key", "version"),
    )
    op.create_index("ix_definitions_department", "definitions", ["department"])
    op.create_table(
        "forms",
        sa.Column("key", sa.String(length=63), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("schema", _json(), nullable=False),
        sa.Column("published_at", _utc(), nullable=False),
        sa.Column("published_by", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("key", "version"),
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("user_name", sa.String(length=100), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("ticket_key", sa.String(length=40), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("user_name", "key"),
    )
    op.create_table(
        "key_sequences",
        sa.Column("prefix", sa.String(length=10), nullable=False),
        sa.Column("last_value", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("prefix"),
    )
    op.create_table(
        "tickets",
        sa.Column("key", sa.String(length=40), nullable=False),
        sa.Column("definition_key", sa.String(length=63), nullable=False),
        sa.Column("definition_version", sa.Integer(), nullable=False),
        sa.Column("department", sa.String(length=100), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("requester", sa.String(length=100), nullable=False),
        sa.Column("intake", _json(), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("updated_at", _utc(), nullable=False),
        sa.Column("resolved_at", _utc(), nullable=True),
        sa.Column("closed_at", _utc(), nullable=True),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_index("ix_tickets_created_key", "tickets", ["created_at", "key"])
    op.create_index("ix_tickets_definition_key", "tickets", ["definition_key"])
    op.create_index("ix_tickets_department", "tickets", ["department"])
    op.create_index("ix_tickets_requester", "tickets", ["requester"])
    op.create_index("ix_tickets_status_created", "tickets", ["status", "created_at"])
    op.create_table(
        "users",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("department", sa.String(length=100), nullable=False),
        sa.Column("role", sa.String(length=40), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_table(
        "tasks",
        sa.Column("id", sa.String(length=120), nullable=False),
        sa.Column("ticket_key", sa.String(length=40), nullable=False),
        sa.Column("stage_key", sa.String(length=63), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("group_name", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("assignee", sa.String(length=100), nullable=True),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("opened_at", _utc(), nullable=True),
        sa.Column("claimed_at", _utc(), nullable=True),
        sa.Column("completed_at", _utc(), nullable=True),
        sa.Column("completed_by", sa.String(length=100), nullable=True),
        sa.Column("data", _json(), nullable=False),
        sa.ForeignKeyConstraint(["ticket_key"], ["tickets.key"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_tasks_assignee_status", "tasks", ["assignee", "status"])
    op.create_index("ix_tasks_group_status", "tasks", ["group_name", "status"])
    op.create_index("ix_tasks_ticket_key", "tasks", ["ticket_key"])
    op.create_table(
        "ticket_events",
        sa.Column("ticket_key", sa.String(length=40), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=40), nullable=False),
        sa.Column("at", _utc(), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("data", _json(), nullable=False),
        sa.ForeignKeyConstraint(["ticket_key"], ["tickets.key"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("ticket_key", "seq"),
    )


def downgrade() -> None:
    """Drop everything upgrade created (indexes go with their tables)."""
    for table in (
        "ticket_events",
        "tasks",
        "users",
        "tickets",
        "key_sequences",
        "idempotency_keys",
        "forms",
        "definitions",
    ):
        op.drop_table(table)
