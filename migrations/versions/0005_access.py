"""Field-level access: Casbin rules, the policy version, permission audit, field access counts.

Revision ID: 0005_access
Revises: 0001
Create Date: 2026-11-25 10:05:00
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005_access"
down_revision: str | Sequence[str] | None = "0003_triage"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The policy a fresh install starts with, frozen here: a migration must not change when the
# code does.
# (sub, dom, obj, act, clearance, eft). "@owner" is whoever requested the ticket;
# "{home}" is the caller's own department.
DEFAULT_POLICIES: tuple[tuple[str, str, str, str, str, str], ...] = (
    # Requesters: their own tickets' public and internal fields, masked beyond that. They
    # write up to confidential, because an intake asks for their own phone or email; a
    # restricted field (ID number, salary) needs an explicit grant.
    ("@owner", "*", "ticket.*", "read", "internal", "allow"),
    ("@owner", "*", "ticket.*", "write", "confidential", "allow"),
    ("@owner", "*", "ticket.*", "read_masked", "restricted", "allow"),
    # Internal comments are for the handling groups, even on a requester's own ticket.
    ("requester", "*", "ticket.internal_comments", "write", "public", "deny"),
    # Agents: tickets their department owns or has a task in, up to confidential.
    ("agent", "{home}/*", "ticket.*", "read", "confidential", "allow"),
    ("agent", "{home}/*", "ticket.*", "write", "confidential", "allow"),
    ("agent", "{home}/*", "ticket.*", "read_masked", "restricted", "allow"),
    # Auditors read everything except restricted fields, and write nothing.
    ("auditor", "*", "ticket.*", "read", "confidential", "allow"),
    # Process owners and systems follow every ticket, as before field-level policies.
    ("process_owner", "*", "ticket.*", "read", "internal", "allow"),
    ("system", "*", "ticket.*", "read", "internal", "allow"),
    # Department sandboxes: which form fields process owners may put in definitions, per
    # department (narrow to "{home}/*" to keep each department's owners to their own).
    ("process_owner", "*", "ticket.*", "define", "restricted", "allow"),
    # Admins: everything, including managing policies.
    ("admin", "*", "*", "*", "restricted", "allow"),
)


GENESIS = "0" * 64


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create the tables and seed the default policy."""
    rules = op.create_table(
        "casbin_rule",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("ptype", sa.String(length=255), nullable=True),
        *(sa.Column(name, sa.String(length=255), nullable=True) for name in _RULE_COLUMNS),
        sa.PrimaryKeyConstraint("id"),
    )
    state = op.create_table(
        "policy_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("audit_head", sa.String(length=64), nullable=False),
        sa.Column("audit_count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "permission_audit",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("at", _utc(), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("before", _json(), nullable=False),
        sa.Column("after", _json(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
    )
    op.create_index("ix_permission_audit_at", "permission_audit", ["at"])
    op.create_table(
        "field_access",
        sa.Column("role", sa.String(length=100), nullable=False),
        sa.Column("field", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("last_at", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("role", "field", "action", "day"),
    )
    seed = [
        dict(zip(("ptype", *_RULE_COLUMNS), ("p", *line), strict=False))
        for line in DEFAULT_POLICIES
    ]
    op.bulk_insert(rules, seed)
    op.bulk_insert(state, [{"id": 1, "version": 1, "audit_head": GENESIS, "audit_count": 0}])


_RULE_COLUMNS = ("v0", "v1", "v2", "v3", "v4", "v5")


def downgrade() -> None:
    """Drop the tables."""
    op.drop_table("field_access")
    op.drop_index("ix_permission_audit_at", table_name="permission_audit")
    op.drop_table("permission_audit")
    op.drop_table("policy_state")
    op.drop_table("casbin_rule")
