"""Ticket list indexes: each filter column followed by the keyset order (created_at, key).

Revision ID: 0026_list_indexes
Revises: 0024_usage
Create Date: 2026-12-21 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0026_list_indexes"
down_revision: str | Sequence[str] | None = "0024_usage"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Each single-column (or shorter) index is a prefix of its replacement, so it goes.
_REPLACED = {
    "ix_tickets_status_created": ("ix_tickets_status_created_key", ["status", "created_at"]),
    "ix_tickets_definition_key": ("ix_tickets_definition_created_key", ["definition_key"]),
    "ix_tickets_department": ("ix_tickets_department_created_key", ["department"]),
    "ix_tickets_requester": ("ix_tickets_requester_created_key", ["requester"]),
}


def upgrade() -> None:
    """Create the composite indexes, then drop the prefixes they cover."""
    for old, (new, columns) in _REPLACED.items():
        op.create_index(new, "tickets", [columns[0], "created_at", "key"])
        op.drop_index(old, table_name="tickets")


def downgrade() -> None:
    """Put the old indexes back."""
    for old, (new, columns) in _REPLACED.items():
        op.create_index(old, "tickets", columns)
        op.drop_index(new, table_name="tickets")
