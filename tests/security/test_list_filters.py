"""List filters may only compare fields the caller reads in every ticket they can list."""

from __future__ import annotations

from pathlib import Path

from casbin.util.builtin_operators import key_match
from hypothesis import given
from hypothesis import strategies as st

from policies.access import AccessControl
from policies.decisions import Subject
from policies.enforcer import file_enforcer
from policies.list_filters import representative_domains, unreadable_somewhere

PIECES = st.sampled_from(["ops", "hr", "o", "/", "plant-a", "plant-", "a", "-", "*"])
PATTERNS = st.lists(st.lists(PIECES, max_size=4).map("".join), max_size=6)
DOMAINS = st.lists(PIECES.filter(lambda p: p != "*"), min_size=1, max_size=5).map("".join)


def _class(domain: str, patterns: list[str]) -> list[bool]:
    return [bool(key_match(domain, p)) for p in patterns]


@given(PATTERNS, DOMAINS)
def test_some_representative_matches_exactly_the_patterns_a_domain_matches(
    patterns: list[str], domain: str
) -> None:
    classes = [_class(r, patterns) for r in representative_domains(patterns, None)]
    assert _class(domain, patterns) in classes


@given(PATTERNS, st.sampled_from(["ops", "hr", "o"]), DOMAINS)
def test_a_departments_representatives_cover_its_domains(
    patterns: list[str], department: str, site: str
) -> None:
    domain = f"{department}/{site}"
    representatives = representative_domains(patterns, [department])
    assert all(r.startswith(f"{department}/") for r in representatives)
    assert _class(domain, patterns) in [_class(r, patterns) for r in representatives]


POLICY = """\
p, role:agent, {home}/*, ticket.*, read, confidential, allow
p, user:otto, ops/plant-b, ticket.assignee, read, public, deny
p, @owner, *, ticket.*, read, internal, allow
p, role:requester, *, ticket.assignee, read, public, deny
p, role:auditor, *, ticket.*, read, confidential, allow
g, user:frank, role:auditor, hr/*
"""


def _denied(tmp_path: Path, user: str, role: str, home: str, *fields: str) -> list[str]:
    path = tmp_path / "policy.csv"
    path.write_text(POLICY)
    access = AccessControl()
    access.install(file_enforcer(path), version=1)
    subject = Subject(user=user, role=role, home=home)
    return unreadable_somewhere(access, subject, access.list_scope(subject), fields)


def test_a_field_denied_at_one_site_of_a_listed_department_may_not_be_filtered(
    tmp_path: Path,
) -> None:
    assert _denied(tmp_path, "otto", "agent", "ops", "status", "assignee") == ["assignee"]
    assert _denied(tmp_path, "dana", "agent", "service-desk", "status", "assignee") == []
    # dana may own a ticket at plant-b, but the deny is otto's alone.
    assert _denied(tmp_path, "otto", "agent", "service-desk", "assignee") == ["assignee"]


def test_a_requester_denied_a_field_on_their_own_tickets_may_not_filter_by_it(
    tmp_path: Path,
) -> None:
    assert _denied(tmp_path, "rita", "requester", "sales", "assignee", "tasks") == ["assignee"]
    assert _denied(tmp_path, "rita", "requester", "sales", "status", "definition") == []


def test_a_role_held_in_some_domains_only_counts_where_it_is_held(tmp_path: Path) -> None:
    # frank is an auditor in hr only; his list scope is everything, where he reads nothing.
    assert _denied(tmp_path, "frank", "agent", "it", "status") == ["status"]
    assert _denied(tmp_path, "audrey", "auditor", "audit", "status", "assignee") == []
