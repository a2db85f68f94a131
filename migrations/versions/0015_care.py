"""After-sales care: customers, their consent ledger, care strategies, and who reads customers.

Revision ID: 0015_care
Revises: 0014_deliverables
Create Date: 2026-12-18 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0015_care"
down_revision: str | Sequence[str] | None = "0014_deliverables"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Customers live in the domain "<care department>/<region>": agents of the care department
# read and write every customer field up to confidential (contact fields, consent); every other
# agent and auditors read up to internal (name, tier, region, products); nobody else anything.
# Frozen here: a migration must not change when the code does.
CUSTOMER_POLICIES: tuple[tuple[str, str, str, str, str, str], ...] = (
    ("role:agent", "{home}/*", "customer.*", "read", "confidential", "allow"),
    ("role:agent", "{home}/*", "customer.*", "write", "confidential", "allow"),
    ("role:agent", "*", "customer.*", "read", "internal", "allow"),
    ("role:auditor", "*", "customer.*", "read", "internal", "allow"),
)
_RULE_COLUMNS = ("v0", "v1", "v2", "v3", "v4", "v5")
# Typed columns: offline mode (--sql) renders the values as literals.
_rules = sa.table("casbin_rule", *(sa.column(c, sa.String()) for c in ("ptype", *_RULE_COLUMNS)))
_state = sa.table("policy_state", sa.column("id", sa.Integer()), sa.column("version", sa.Integer()))


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _bump_version() -> None:
    # Running API processes reload their enforcer when the version moves.
    op.execute(_state.update().where(_state.c.id == 1).values(version=_state.c.version + 1))


def upgrade() -> None:
    """Create the customer, consent and strategy tables; grant reading customers."""
    op.create_table(
        "customers",
        sa.Column("id", sa.String(length=80), nullable=False),
        sa.Column("region", sa.String(length=40), nullable=False),
        sa.Column("tier", sa.String(length=20), nullable=False),
        sa.Column("document", _json(), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_customers_region", "customers", ["region"])
    op.create_table(
        "customer_consents",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("customer_id", sa.String(length=80), nullable=False),
        sa.Column("purpose", sa.String(length=40), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("given_at", _utc(), nullable=False),
        sa.Column("recorded_at", _utc(), nullable=False),
        sa.Column("recorded_by", sa.String(length=100), nullable=False),
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("token_used_at", _utc(), nullable=True),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_sha256"),
    )
    op.create_index("ix_customer_consents_customer_id", "customer_consents", ["customer_id"])
    op.create_table(
        "consent_revocations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("consent_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.String(length=80), nullable=False),
        sa.Column("purpose", sa.String(length=40), nullable=False),
        sa.Column("revoked_at", _utc(), nullable=False),
        sa.Column("revoked_by", sa.String(length=100), nullable=False),
        sa.Column("via", sa.String(length=10), nullable=False),
        sa.ForeignKeyConstraint(["consent_id"], ["customer_consents.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_consent_revocations_consent_id", "consent_revocations", ["consent_id"])
    op.create_index("ix_consent_revocations_customer_id", "consent_revocations", ["customer_id"])
    op.create_table(
        "care_strategies",
        sa.Column("key", sa.String(length=63), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("document", _json(), nullable=False),
        sa.Column("published_at", _utc(), nullable=False),
        sa.Column("published_by", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("key", "version"),
    )
    op.bulk_insert(
        _rules,
        [
            dict(zip(("ptype", *_RULE_COLUMNS), ("p", *line), strict=True))
            for line in CUSTOMER_POLICIES
        ],
    )
    _bump_version()


def downgrade() -> None:
    """Drop the tables (their indexes go with them) and the customer rules."""
    op.drop_table("care_strategies")
    op.drop_table("consent_revocations")
    op.drop_table("customer_consents")
    op.drop_table("customers")
    for line in CUSTOMER_POLICIES:
        op.execute(
            _rules.delete().where(
                _rules.c.ptype == "p",
                *(_rules.c[c] == v for c, v in zip(_RULE_COLUMNS, line, strict=True)),
            )
        )
    _bump_version()
