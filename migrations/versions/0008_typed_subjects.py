"""Typed policy subjects: user:, role:, group:, dept: prefixes on every rule's subjects.

A user's name used to share one namespace with roles, so a user called `admin` held the admin
role's rules. Existing rules are rewritten:

- g rules (member, role, domain): the role side becomes `role:<name>`; the member side becomes
  `role:<name>` when it is itself a role (it appears on a role side, or is a built-in role
  name), else `user:<name>`.
- p rules: `@owner` (and any other `@` relation) stays; built-in role names and names used as
  roles become `role:<name>`; every other subject `user:<name>`.

A fresh install therefore starts with the defaults of 0005_access and 0006_sandboxes written
typed: `role:requester`, `role:agent`, `role:auditor`, `role:process_owner`, `role:system`,
`role:admin` and `@owner`. Values already typed are left alone.

Revision ID: 0008_typed_subjects
Revises: 0007_notifications
Create Date: 2026-12-01 09:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_typed_subjects"
down_revision: str | Sequence[str] | None = "0007_notifications"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The built-in roles when this migration was written, frozen: a migration must not change
# when the code does.
BUILT_IN_ROLES: tuple[str, ...] = (
    "requester",
    "agent",
    "process_owner",
    "auditor",
    "admin",
    "system",
)
KIND_PREFIXES: tuple[str, ...] = ("user:", "role:", "group:", "dept:")

_rules = sa.table(
    "casbin_rule",
    *(sa.column(c, sa.String()) for c in ("ptype", "v0", "v1", "v2", "v3", "v4", "v5")),
)
_state = sa.table("policy_state", sa.column("id", sa.Integer()), sa.column("version", sa.Integer()))


def _bump_version() -> None:
    # Running API processes reload their enforcer when the version moves.
    op.execute(_state.update().where(_state.c.id == 1).values(version=_state.c.version + 1))


def _untyped(column: sa.ColumnElement[str]) -> sa.ColumnElement[bool]:
    typed = [column.startswith(prefix) for prefix in KIND_PREFIXES]
    return sa.not_(sa.or_(*typed, column.startswith("@")))


def _role_names() -> sa.ColumnElement[bool]:
    """The subject column v0 names a role: built in, or held by someone in a g rule."""
    holders = sa.select(_rules.c.v1).where(_rules.c.ptype == "g").scalar_subquery()
    return sa.or_(_rules.c.v0.in_(BUILT_IN_ROLES), _rules.c.v0.in_(holders))


def _prefix(column: str, prefix: str, *where: sa.ColumnElement[bool]) -> None:
    op.execute(
        _rules.update()
        .where(*where)
        .values({column: sa.literal(prefix, sa.String()) + _rules.c[column]})
    )


def upgrade() -> None:
    """Prefix every subject with its kind (roles decided before the role sides are rewritten)."""
    for ptype in ("p", "g"):
        is_type, untyped = _rules.c.ptype == ptype, _untyped(_rules.c.v0)
        _prefix("v0", "role:", is_type, untyped, _role_names())
        _prefix("v0", "user:", is_type, _untyped(_rules.c.v0))
    _prefix("v1", "role:", _rules.c.ptype == "g", _untyped(_rules.c.v1))
    _bump_version()


def downgrade() -> None:
    """Strip the prefixes; department rules have no untyped meaning and are removed."""
    op.execute(
        _rules.delete().where(
            sa.or_(
                sa.and_(_rules.c.ptype.in_(("p", "g")), _rules.c.v0.startswith("dept:")),
                sa.and_(_rules.c.ptype == "g", _rules.c.v1.startswith("dept:")),
            )
        )
    )
    for column in ("v0", "v1"):
        for prefix in ("user:", "role:", "group:"):
            applies = _rules.c.ptype.in_(("p", "g") if column == "v0" else ("g",))
            op.execute(
                _rules.update()
                .where(applies, _rules.c[column].startswith(prefix))
                .values({column: sa.func.substr(_rules.c[column], len(prefix) + 1)})
            )
    _bump_version()
