"""Least-privilege proposals from counted field use; they never change the policy themselves."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from casbin.util.builtin_operators import key_match

from policies.catalog import FieldCatalog
from policies.decisions import Rule
from policies.management import rule_document
from policies.subjects import about_tickets, role_subject
from store.access import FieldUse

# The actions field access is counted for; a rule for any other (define, publish) has no
# counted use, so its absence says nothing and it is never proposed for removal.
COUNTED_ACTIONS = ("read", "read_masked", "write")


def _rule_doc(rule: Rule) -> dict[str, str]:
    return rule_document("p", [rule.sub, rule.dom, rule.obj, rule.act, rule.clearance, rule.eft])


def _restricted_fields(rule: Rule, catalogs: Iterable[FieldCatalog]) -> list[str]:
    if not key_match("read", rule.act) or rule.clearance != "restricted":
        return []
    return sorted(
        {
            name
            for catalog in catalogs
            for name, spec in catalog.fields.items()
            if spec.sensitivity == "restricted" and key_match("ticket." + name, rule.obj)
        }
    )


def recommend(
    *,
    role: str,
    rules: Sequence[Rule],
    uses: Mapping[tuple[str, str], FieldUse],
    catalogs: Sequence[FieldCatalog],
) -> dict[str, Any]:
    """Grants to remove (unused), wildcard grants to narrow (to what was used), restricted reads.

    `role` is the role's name as users carry it (uses are counted per role); its rules are
    those whose subject is `role:<name>`.
    """
    subject = role_subject(role)
    remove, narrow, restricted = [], [], []
    for rule in rules:
        if rule.sub != subject or rule.eft != "allow":
            continue
        if not any(key_match(action, rule.act) for action in COUNTED_ACTIONS):
            continue
        # Uses are counted for ticket fields: a rule on other objects (customer fields) has
        # none to count, so it is never proposed for removal either.
        if not about_tickets(rule.obj):
            continue
        used = sorted(
            {
                f"ticket.{name}"
                for (name, action) in uses
                if key_match("ticket." + name, rule.obj) and key_match(action, rule.act)
            }
        )
        if not used:
            remove.append(_rule_doc(rule))
        elif "*" in rule.obj or "*" in rule.act:
            narrow.append({"rule": _rule_doc(rule), "used_objects": used})
        fields = _restricted_fields(rule, catalogs)
        if fields:
            restricted.append({"rule": _rule_doc(rule), "restricted_fields": fields})
    return {
        "role": role,
        "remove_unused": remove,
        "narrow_wildcards": narrow,
        "reads_restricted": restricted,
    }
