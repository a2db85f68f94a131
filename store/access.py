"""Policy rules, the policy version, the hash-chained permission audit and field access counts."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ScalarSelect, select
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import FieldAccessRow, PermissionAuditRow, PolicyRuleRow, PolicyStateRow

GENESIS = "0" * 64
RULE_COLUMNS = ("v0", "v1", "v2", "v3", "v4", "v5")


def policy_version_query() -> ScalarSelect[int]:
    """The current policy version as a scalar subquery (no row yet reads as none)."""
    return select(PolicyStateRow.version).where(PolicyStateRow.id == 1).scalar_subquery()


async def policy_version(*, session: AsyncSession) -> int:
    """The current policy version (bumped by every change)."""
    version = await session.scalar(select(policy_version_query()))
    return int(version or 0)


async def list_rules(*, session: AsyncSession, ptype: str) -> list[list[str]]:
    """Every rule of this type ("p" or "g"), in insertion order."""
    rows = await session.scalars(
        select(PolicyRuleRow).where(PolicyRuleRow.ptype == ptype).order_by(PolicyRuleRow.id)
    )
    return [[v for v in (getattr(r, c) for c in RULE_COLUMNS) if v is not None] for r in rows]


async def rule_exists(*, session: AsyncSession, ptype: str, rule: Sequence[str]) -> bool:
    """Whether this exact rule is stored."""
    conditions = [PolicyRuleRow.ptype == ptype]
    for column, value in zip(RULE_COLUMNS, [*rule, *[None] * 6], strict=False):
        attribute = getattr(PolicyRuleRow, column)
        conditions.append(attribute.is_(None) if value is None else attribute == value)
    found = await session.scalar(select(PolicyRuleRow.id).where(*conditions).limit(1))
    return found is not None


def entry_hash(
    *,
    seq: int,
    at: datetime,
    actor: str,
    action: str,
    before: Mapping[str, Any],
    after: Mapping[str, Any],
    reason: str,
    prev_hash: str,
) -> str:
    """SHA-256 over the entry's canonical JSON, which includes the previous entry's hash."""
    body = {
        "seq": seq,
        "at": at.isoformat(),
        "actor": actor,
        "action": action,
        "before": before,
        "after": after,
        "reason": reason,
        "prev_hash": prev_hash,
    }
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


async def locked_state(*, session: AsyncSession) -> PolicyStateRow:
    """The policy state row, locked for this transaction where the database can."""
    state = await session.scalar(
        select(PolicyStateRow).where(PolicyStateRow.id == 1).with_for_update()
    )
    if state is None:
        raise RuntimeError("policy_state is missing; run `ticketflow migrate`")
    return state


async def record_change(
    *,
    session: AsyncSession,
    state: PolicyStateRow,
    actor: str,
    action: str,
    before: Mapping[str, Any],
    after: Mapping[str, Any],
    reason: str,
    now: datetime,
) -> PermissionAuditRow:
    """Bump the policy version and append the audit entry, in the caller's transaction."""
    seq = state.audit_count + 1
    digest = entry_hash(
        seq=seq,
        at=now,
        actor=actor,
        action=action,
        before=before,
        after=after,
        reason=reason,
        prev_hash=state.audit_head,
    )
    row = PermissionAuditRow(
        seq=seq,
        at=now,
        actor=actor,
        action=action,
        before=dict(before),
        after=dict(after),
        reason=reason,
        prev_hash=state.audit_head,
        hash=digest,
    )
    session.add(row)
    state.version += 1
    state.audit_count, state.audit_head = seq, digest
    await session.flush()
    return row


async def list_audit(
    *, session: AsyncSession, start: datetime | None, end: datetime | None
) -> list[PermissionAuditRow]:
    """Audit entries in order, optionally within [start, end)."""
    query = select(PermissionAuditRow).order_by(PermissionAuditRow.seq)
    if start is not None:
        query = query.where(PermissionAuditRow.at >= start)
    if end is not None:
        query = query.where(PermissionAuditRow.at < end)
    return list((await session.scalars(query)).all())


async def verify_audit(*, session: AsyncSession) -> list[str]:
    """Every break in the chain: edited entries, deleted ones, a truncated tail. Empty if intact."""
    problems: list[str] = []
    expected_prev, expected_seq = GENESIS, 1
    for row in await list_audit(session=session, start=None, end=None):
        if row.seq != expected_seq:
            problems.append(f"entries {expected_seq}..{row.seq - 1} are missing")
        if row.prev_hash != expected_prev:
            problems.append(f"entry {row.seq} does not follow the entry before it")
        digest = entry_hash(
            seq=row.seq,
            at=row.at,
            actor=row.actor,
            action=row.action,
            before=row.before,
            after=row.after,
            reason=row.reason,
            prev_hash=row.prev_hash,
        )
        if digest != row.hash:
            problems.append(f"entry {row.seq} was edited (its hash does not match its content)")
        expected_prev, expected_seq = row.hash, row.seq + 1
    state = await session.get(PolicyStateRow, 1)
    if state is not None and (state.audit_count, state.audit_head) != (
        expected_seq - 1,
        expected_prev,
    ):
        problems.append(
            f"the log ends at entry {expected_seq - 1} but {state.audit_count} were written"
        )
    return problems


@dataclass(frozen=True)
class FieldUse:
    """How often and when last a role used a field for an action."""

    count: int
    last_at: datetime


async def add_field_access(
    *, session: AsyncSession, counts: Mapping[tuple[str, str, str], int], now: datetime
) -> None:
    """Add counted (role, field, action) uses to today's rows."""
    day = now.date().isoformat()
    for (role, field, action), count in counts.items():
        row = await session.get(FieldAccessRow, (role, field, action, day))
        if row is None:
            session.add(
                FieldAccessRow(
                    role=role, field=field, action=action, day=day, count=count, last_at=now
                )
            )
        else:
            row.count += count
            row.last_at = now
    await session.flush()


async def field_use_since(
    *, session: AsyncSession, role: str, since: datetime
) -> dict[tuple[str, str], FieldUse]:
    """Per (field, action): uses by this role since a day, and the last one."""
    rows = await session.scalars(
        select(FieldAccessRow).where(
            FieldAccessRow.role == role, FieldAccessRow.day >= since.date().isoformat()
        )
    )
    uses: dict[tuple[str, str], FieldUse] = {}
    for row in rows:
        key = (row.field, row.action)
        seen = uses.get(key)
        if seen is None:
            uses[key] = FieldUse(row.count, row.last_at)
        else:
            uses[key] = FieldUse(seen.count + row.count, max(seen.last_at, row.last_at))
    return uses
