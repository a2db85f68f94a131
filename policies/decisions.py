"""Decide once per (subject, ticket domain) which rules apply, then answer fields from memory.

`Enforcer.enforce` walks every rule for every call (about 2.5 ms with 1,000 rules), so checking
50 fields one call at a time would cost over 100 ms per ticket. The matcher in model.conf is a
conjunction of a subject test, a domain test and a field test: the first two depend only on the
subject and the domain, so they are evaluated once per pair over the distinct rule subjects,
leaving a short list of applicable rules that each field is matched against. The functions are
the same ones the enforcer uses; tests compare every answer with `enforce`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from casbin.util.builtin_operators import key_match

from policies.enforcer import covers, domain_match
from policies.subjects import OTHER, OWNER, dept_subject, role_subject, user_subject

__all__ = ["OTHER", "OWNER", "Decision", "ReadingDecision", "Rule", "Subject", "decide"]

# Field answers remembered per decision; past this many the memo starts again.
MAX_MEMO = 20_000


@dataclass(frozen=True)
class Subject:
    """Who asks: the user, the role and department on their account, and if they requested it."""

    user: str
    role: str
    home: str
    owner: bool = False

    @property
    def relation(self) -> str:
        """The relational role the model's `r.rel` receives."""
        return OWNER if self.owner else OTHER

    @property
    def principals(self) -> tuple[str, str, str, str]:
        """The typed subjects the caller holds: the request's first four values."""
        return (
            user_subject(self.user),
            role_subject(self.role),
            self.relation,
            dept_subject(self.home),
        )


@dataclass(frozen=True)
class Rule:
    """One p line: subject, domain pattern, object pattern, action pattern, clearance, effect."""

    sub: str
    dom: str
    obj: str
    act: str
    clearance: str
    eft: str

    @classmethod
    def from_line(cls, line: Sequence[str]) -> Rule:
        """A rule from the enforcer's policy line (missing trailing values count as empty)."""
        values = [*line, "", "", "", "", "", ""][:6]
        return cls(*values)


@dataclass
class Decision:
    """The rules that apply to one subject in one domain, and memoised field answers."""

    rules: tuple[Rule, ...]
    _memo: dict[tuple[str, str, str], bool] = field(default_factory=dict)

    def allows(self, obj: str, act: str, sensitivity: str) -> bool:
        """The enforcer's answer for this object, action and sensitivity."""
        key = (obj, act, sensitivity)
        answer = self._memo.get(key)
        if answer is None:
            answer = self._evaluate(obj, act, sensitivity)
            if len(self._memo) >= MAX_MEMO:
                # Paths come from data keys too: a caller must not grow this without bound.
                self._memo.clear()
            self._memo[key] = answer
        return answer

    def _evaluate(self, obj: str, act: str, sensitivity: str) -> bool:
        allowed = False
        for rule in self.rules:
            if not (key_match(obj, rule.obj) and key_match(act, rule.act)):
                continue
            if rule.eft == "deny" and covers(sensitivity, rule.clearance):
                return False
            if rule.eft == "allow" and covers(rule.clearance, sensitivity):
                allowed = True
        return allowed


@dataclass
class ReadingDecision(Decision):
    """The same rules, for reading only: a domain granted to a person for having worked it."""

    def allows(self, obj: str, act: str, sensitivity: str) -> bool:
        """The enforcer's answer for reads; never a write."""
        return act != "write" and super().allows(obj, act, sensitivity)


def decide(enforcer: Any, rules: Sequence[Rule], subject: Subject, domain: str) -> Decision:
    """The rules whose subject and domain tests hold for this subject in this domain."""
    links = enforcer.get_role_manager()
    principals = subject.principals
    linked: dict[str, bool] = {}
    applicable = []
    for rule in rules:
        holds = linked.get(rule.sub)
        if holds is None:
            holds = any(links.has_link(p, rule.sub, domain) for p in principals)
            linked[rule.sub] = holds
        if holds and domain_match(domain, rule.dom, subject.home):
            applicable.append(rule)
    return Decision(rules=tuple(applicable))
