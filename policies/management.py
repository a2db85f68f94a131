"""Changing the policy: every rule or role change goes through the adapter, bumps the version
and appends to the permission audit, all in the caller's transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from policies.enforcer import db_adapter
from policies.subjects import rule_problems
from store import access as store

RULE_FIELDS = {
    "p": ("subject", "domain", "object", "action", "clearance", "effect"),
    "g": ("user", "role", "domain"),
}


class RuleExists(ValueError):
    """Adding a rule that is already there."""


class NoSuchRule(LookupError):
    """Removing a rule that is not there."""


class InvalidRule(ValueError):
    """A rule value the model cannot parse: (field, detail) for each."""

    def __init__(self, problems: list[tuple[str, str]]):
        super().__init__("; ".join(detail for _field, detail in problems))
        self.problems = problems


def rule_document(ptype: str, rule: Sequence[str]) -> dict[str, str]:
    """A rule as named fields, as the API and the audit log show it."""
    return dict(zip(RULE_FIELDS[ptype], rule, strict=True))


async def change_rule(
    *,
    session: AsyncSession,
    ptype: str,
    rule: Sequence[str],
    add: bool,
    actor: str,
    reason: str,
    now: datetime,
) -> int:
    """Add or remove one p or g rule; returns the audit entry's sequence number.

    A rule to add must follow the grammar of policies.subjects: one the model cannot parse
    would break the loading of the whole policy.
    """
    if add and (problems := rule_problems(ptype, rule)):
        raise InvalidRule(problems)
    state = await store.locked_state(session=session)
    present = await store.rule_exists(session=session, ptype=ptype, rule=rule)
    if add and present:
        raise RuleExists(f"the rule {list(rule)} already exists")
    if not add and not present:
        raise NoSuchRule(f"no rule {list(rule)}")
    adapter = db_adapter(session)
    if add:
        await adapter.add_policy(ptype, ptype, list(rule))
    else:
        await adapter.remove_policy(ptype, ptype, list(rule))
    document = {"type": ptype, **rule_document(ptype, rule)}
    entry = await store.record_change(
        session=session,
        state=state,
        actor=actor,
        action=("add_" if add else "remove_") + ("policy" if ptype == "p" else "role"),
        before={} if add else document,
        after=document if add else {},
        reason=reason,
        now=now,
    )
    return entry.seq
