"""Department sandboxes: process owners may publish directly unless a policy denies it.

Revision ID: 0006_sandboxes
Revises: 0005_access
Create Date: 2026-11-25 10:50:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_sandboxes"
down_revision: str | Sequence[str] | None = "0005_access"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Direct publishing stays open to every department's process owners; a deny rule of
# (process_owner, <department>/*, definition.direct, publish, ..., deny) sandboxes one.
DIRECT_PUBLISHING: tuple[tuple[str, str, str, str, str, str], ...] = (
    ("process_owner", "*", "definition.direct", "publish", "restricted", "allow"),
)
_RULE_COLUMNS = ("v0", "v1", "v2", "v3", "v4", "v5")
# Typed columns: offline mode (--sql) renders the values as literals.
_rules = sa.table("casbin_rule", *(sa.column(c, sa.String()) for c in ("ptype", *_RULE_COLUMNS)))
_state = sa.table("policy_state", sa.column("id", sa.Integer()), sa.column("version", sa.Integer()))


def _bump_version() -> None:
    # Running API processes reload their enforcer when the version moves.
    op.execute(_state.update().where(_state.c.id == 1).values(version=_state.c.version + 1))


def upgrade() -> None:
    """Grant direct publishing as before (no department is sandboxed until a rule says so)."""
    op.bulk_insert(
        _rules,
        [
            dict(zip(("ptype", *_RULE_COLUMNS), ("p", *line), strict=True))
            for line in DIRECT_PUBLISHING
        ],
    )
    _bump_version()


def downgrade() -> None:
    """Remove the grant."""
    for line in DIRECT_PUBLISHING:
        op.execute(
            _rules.delete().where(
                _rules.c.ptype == "p",
                *(_rules.c[c] == v for c, v in zip(_RULE_COLUMNS, line, strict=True)),
            )
        )
    _bump_version()
