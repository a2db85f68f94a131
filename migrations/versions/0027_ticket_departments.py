"""The departments a ticket involves, kept on its row: owner, handlers and group participants.

Revision ID: 0027_ticket_departments
Revises: 0026_list_indexes
Create Date: 2026-12-22 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0027_ticket_departments"
down_revision: str | Sequence[str] | None = "0026_list_indexes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The owner, every group whose task opened (open, claimed, done, or cancelled after opening)
# and every group participant: what the list filters read from tasks and participants before.
_NAMES = (
    "SELECT tickets.department AS name"
    " UNION SELECT tasks.group_name FROM tasks WHERE tasks.ticket_key = tickets.key"
    " AND (tasks.status IN ('open', 'claimed', 'done')"
    " OR (tasks.status = 'cancelled' AND tasks.opened_at IS NOT NULL))"
    " UNION SELECT p.name FROM ticket_participants p"
    " WHERE p.ticket_key = tickets.key AND p.kind = 'group'"
    " ORDER BY 1"
)


def upgrade() -> None:
    """Add the column (text[] with a GIN index, or a JSON array on SQLite) and fill it."""
    if op.get_context().dialect.name == "postgresql":
        op.add_column(
            "tickets",
            sa.Column(
                "departments",
                postgresql.ARRAY(sa.Text()),
                nullable=False,
                server_default=sa.text("'{}'"),
            ),
        )
        op.execute(f"UPDATE tickets SET departments = ARRAY({_NAMES})")
        op.create_index(
            "ix_tickets_departments", "tickets", ["departments"], postgresql_using="gin"
        )
        return
    # A plain ADD COLUMN: batch mode would copy the table, and dropping the old copy would
    # cascade to every row that references a ticket.
    op.add_column(
        "tickets",
        sa.Column("departments", sa.JSON(), nullable=False, server_default=sa.text("'[]'")),
    )
    op.execute(f"UPDATE tickets SET departments = (SELECT json_group_array(name) FROM ({_NAMES}))")


def downgrade() -> None:
    """Drop the column (and its index)."""
    if op.get_context().dialect.name == "postgresql":
        op.drop_index("ix_tickets_departments", table_name="tickets")
    # ALTER TABLE DROP COLUMN (SQLite 3.35+), for the reason upgrade gives.
    op.drop_column("tickets", "departments")
