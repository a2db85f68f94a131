"""May a caller filter a list by a field? Only if they may read it in every ticket listed.

A filter's answer depends on a field's value in tickets the list then leaves out, so a filter
on a field the caller may not read somewhere would probe that field. Readability is decided
per ticket domain (`<department>/<site>`), and sites are open-ended; but policy domains are
keyMatch patterns (an exact string, or a prefix before `*`), so domains fall into finitely
many classes that every rule and role link treats alike. One domain per class stands for all
of them: the patterns themselves, each prefix followed by a character no pattern has, and
that character alone (a domain no specific pattern names).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from policies.access import AccessControl, ListScope
from policies.catalog import SYSTEM_FIELDS
from policies.decisions import Subject

# Not in any pattern (a policy value is printable text): it continues a prefix into a
# domain no longer pattern names.
_ELSEWHERE = "\x00"


def representative_domains(patterns: Iterable[str], departments: Sequence[str] | None) -> list[str]:
    """One domain per class the patterns tell apart, within these departments (None: any)."""
    found = {_ELSEWHERE}
    for pattern in patterns:
        star = pattern.find("*")
        found.add(pattern if star < 0 else pattern[:star] + _ELSEWHERE)
    if departments is None:
        return sorted(found)
    prefixes = tuple(f"{d}/" for d in departments)
    inside = {d for d in found if d.startswith(prefixes)}
    return sorted(inside | {p + _ELSEWHERE for p in prefixes})


def policy_patterns(access: AccessControl, home: str) -> list[str]:
    """Every domain pattern of the loaded rules (with the caller's home) and role links."""
    patterns = [rule.dom.replace("{home}", home) for rule in access.rules]
    if access.enforcer is not None:
        patterns += [
            str(line[2]) for line in access.enforcer.get_grouping_policy() if len(line) > 2
        ]
    return patterns


def unreadable_somewhere(
    access: AccessControl, subject: Subject, scope: ListScope, fields: Iterable[str]
) -> list[str]:
    """The system fields among these the caller may not read in some ticket they can list.

    Tickets of the scope's departments are checked as requested by the caller and not (the
    caller may be either); with `own`, their own tickets in any domain as well.
    """
    patterns = policy_patterns(access, subject.home)
    other = Subject(subject.user, subject.role, subject.home, owner=False)
    owner = Subject(subject.user, subject.role, subject.home, owner=True)
    departments = None if scope.everything else scope.departments
    checks = [(s, d) for d in representative_domains(patterns, departments) for s in (other, owner)]
    if scope.own and departments is not None:
        checks += [(owner, d) for d in representative_domains(patterns, None)]
    denied = []
    for name in dict.fromkeys(fields):
        sensitivity = SYSTEM_FIELDS.get(name, "restricted")
        if not all(
            access.decision(s, d).allows(f"ticket.{name}", "read", sensitivity) for s, d in checks
        ):
            denied.append(name)
    return denied
