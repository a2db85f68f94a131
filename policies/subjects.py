"""Typed policy subjects and the grammar every stored rule value must follow.

Users, roles, groups and departments are distinct kinds of subject, written `user:<name>`,
`role:<name>`, `group:<name>` and `dept:<name>`; `@owner` is the relational subject for a
ticket's requester. A user name therefore never meets a role's rules, whatever it is called.

Rule values are stored as one policy line per rule and parsed back by Casbin's line parser,
which splits on commas and counts brackets, so a stray `)` in one value breaks the loading of
the whole policy. Each column has a strict grammar here, and nothing else is stored.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

from policies.enforcer import SENSITIVITY
from policies.roles import ROLES

USER, ROLE, GROUP, DEPT = "user", "role", "group", "dept"
KINDS: Final = (USER, ROLE, GROUP, DEPT)
OWNER, OTHER = "@owner", "@other"

# Names of users, roles, groups and departments: no commas, brackets, blanks, quotes or colons.
NAME_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,99}"
_KINDS = "|".join(KINDS)
SUBJECT_PATTERN = rf"^(?:{OWNER}|(?:{_KINDS}):{NAME_PATTERN})$"
MEMBER_PATTERN = rf"^(?:{_KINDS}):{NAME_PATTERN}$"
HOLDER_PATTERN = rf"^(?:{ROLE}|{GROUP}):{NAME_PATTERN}$"
# keyMatch patterns: a segment is a literal with an optional trailing "*", or "*" alone.
_SEGMENT = r"(?:[A-Za-z0-9_.-]{1,100}\*?|\*)"
DOMAIN_PATTERN = rf"^(?:\*|(?:\{{home\}}|{_SEGMENT})(?:/{_SEGMENT})?)$"
LINK_DOMAIN_PATTERN = rf"^(?:\*|{_SEGMENT}(?:/{_SEGMENT})?)$"
_PATH = r"(?:[A-Za-z0-9_-]{1,100}\.){0,10}(?:[A-Za-z0-9_-]{1,100}\*?|\*)"
OBJECT_PATTERN = rf"^(?:\*|(?:ticket|definition|customer)\.{_PATH})$"
ACTIONS: Final = ("read", "read_masked", "write", "define", "publish", "*")
EFFECTS: Final = ("allow", "deny")
MAX_VALUE = 200

# Who the system itself acts as in events and publications: a user of that name would be
# indistinguishable from it in a ticket's history.
SYSTEM_ACTORS: Final = frozenset({"system", "sla", "triage", "sentiment", "bundled", "cli", "git"})

_GRAMMAR: Final = {
    "p": (
        ("subject", SUBJECT_PATTERN, "@owner or user:, role:, group:, dept: and a name"),
        ("domain", DOMAIN_PATTERN, "*, or <department>/<site> patterns ({home} allowed)"),
        (
            "object",
            OBJECT_PATTERN,
            "*, ticket.<path>, customer.<field> or definition.<name> (with *)",
        ),
        ("action", None, "one of " + ", ".join(ACTIONS)),
        ("clearance", None, "one of " + ", ".join(SENSITIVITY)),
        ("effect", None, "allow or deny"),
    ),
    "g": (
        ("user", MEMBER_PATTERN, "user:, role:, group: or dept: and a name"),
        ("role", HOLDER_PATTERN, "role: or group: and a name"),
        ("domain", LINK_DOMAIN_PATTERN, "*, or <department>/<site> patterns"),
    ),
}
_CHOICES: Final = {"action": ACTIONS, "clearance": SENSITIVITY, "effect": EFFECTS}
_COMPILED: Final = {
    ptype: tuple((name, re.compile(p) if p else None, hint) for name, p, hint in columns)
    for ptype, columns in _GRAMMAR.items()
}
_NAME = re.compile(rf"^{NAME_PATTERN}$")


def about_tickets(obj: str) -> bool:
    """Whether a rule's object pattern can name a ticket field (`*` or `ticket.…`)."""
    return obj.split(".", 1)[0] in ("*", "ticket")


def user_subject(name: str) -> str:
    """The policy subject of a user."""
    return f"{USER}:{name}"


def role_subject(name: str) -> str:
    """The policy subject of a role."""
    return f"{ROLE}:{name}"


def dept_subject(name: str) -> str:
    """The policy subject every member of a department holds."""
    return f"{DEPT}:{name}"


def rule_problems(ptype: str, values: Sequence[str]) -> list[tuple[str, str]]:
    """(field, detail) for every value the model cannot take; empty when the rule is storable."""
    columns = _COMPILED.get(ptype)
    if columns is None:
        return [("type", f"unknown rule type {ptype!r}")]
    if len(values) != len(columns):
        return [("rule", f"a {ptype} rule has {len(columns)} values, not {len(values)}")]
    problems = []
    for (name, pattern, hint), value in zip(columns, values, strict=True):
        if not isinstance(value, str) or len(value) > MAX_VALUE:
            problems.append((name, f"must be a string of at most {MAX_VALUE} characters"))
        elif not (pattern.fullmatch(value) if pattern else value in _CHOICES[name]):
            problems.append((name, f"{value!r} is not a valid {name}: {hint}"))
    return problems


def user_name_problem(name: str) -> str | None:
    """Why this cannot be a user's name, or None: reserved words and unsafe characters."""
    if name in ROLES:
        return f"{name!r} is a role name; user names must differ from role names"
    if name in SYSTEM_ACTORS:
        return f"{name!r} is the name the system acts under"
    if ":" in name or name.startswith("@") or "*" in name:
        return f"{name!r} is reserved: user names have no ':' or '*' and do not start with '@'"
    if not _NAME.fullmatch(name):
        return (
            f"{name!r} is not a valid user name: letters, digits, '_', '.', '@' and '-',"
            " starting with a letter or digit, at most 100 characters"
        )
    return None


def department_name_problem(name: str) -> str | None:
    """Why this cannot be a department's name (it appears in `dept:` subjects), or None."""
    if not _NAME.fullmatch(name):
        return (
            f"{name!r} is not a valid department: letters, digits, '_', '.', '@' and '-',"
            " starting with a letter or digit, at most 100 characters"
        )
    return None
