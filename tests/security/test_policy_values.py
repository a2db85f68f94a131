"""A stored rule can never break the enforcer: every value follows the model's grammar.

Before, a rule whose subject held `)` or `]` was stored, and Casbin's line parser (which counts
brackets to split a policy line) then failed on every load: each ticket request was a 500 until
the rule was deleted.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from casbin.persist.adapter import _extract_tokens
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from policies.access import AccessControl, ticket_domains
from policies.catalog import catalog_from_document
from policies.decisions import Subject
from policies.enforcer import SENSITIVITY, db_enforcer
from policies.management import InvalidRule, change_rule
from policies.redaction import TICKET_SHAPE, redact
from policies.subjects import (
    ACTIONS,
    DOMAIN_PATTERN,
    EFFECTS,
    HOLDER_PATTERN,
    LINK_DOMAIN_PATTERN,
    MEMBER_PATTERN,
    OBJECT_PATTERN,
    SUBJECT_PATTERN,
    rule_problems,
)
from store.models import PolicyRuleRow
from tests.api.access_helpers import file, publish_sensitive
from tests.api.conftest import Api
from tests.dbutil import migrated_sessions, sqlite_url

# Values near the grammar and far from it: Casbin's separators and brackets, blanks, quotes,
# comment marks, line breaks and non-ASCII text.
HOSTILE = st.text(alphabet=st.sampled_from("ab:@*{}/.,_-()[] \t\n#\"'\\é\x00"), max_size=12)


def _hostile(prefixes: list[str]) -> st.SearchStrategy[str]:
    return st.one_of(st.builds(lambda p, t: p + t, st.sampled_from(prefixes), HOSTILE), HOSTILE)


def _rules(
    valid: list[st.SearchStrategy[str]], hostile: list[st.SearchStrategy[str]]
) -> st.SearchStrategy[tuple[str, ...]]:
    """Rules valid in every column, valid but for one column, or hostile throughout."""

    def one_off(i: int) -> st.SearchStrategy[tuple[str, ...]]:
        return st.tuples(*(hostile[j] if j == i else v for j, v in enumerate(valid)))

    return st.one_of(
        st.tuples(*valid),
        st.integers(0, len(valid) - 1).flatmap(one_off),
        st.tuples(*hostile),
    )


def _grammar(pattern: str) -> st.SearchStrategy[str]:
    return st.from_regex(pattern, fullmatch=True)


P_RULES = _rules(
    [
        _grammar(SUBJECT_PATTERN),
        _grammar(DOMAIN_PATTERN),
        _grammar(OBJECT_PATTERN),
        st.sampled_from(ACTIONS),
        st.sampled_from(SENSITIVITY),
        st.sampled_from(EFFECTS),
    ],
    [
        _hostile(["user:", "role:", "group:", "dept:", "@"]),
        _hostile(["", "{home}/", "ops/"]),
        _hostile(["ticket.", "definition."]),
        _hostile(["read", ""]),
        _hostile(["public", ""]),
        _hostile(["allow", ""]),
    ],
)
G_RULES = _rules(
    [_grammar(MEMBER_PATTERN), _grammar(HOLDER_PATTERN), _grammar(LINK_DOMAIN_PATTERN)],
    [_hostile(["user:", "role:", "dept:"]), _hostile(["role:", "group:"]), _hostile(["ops/"])],
)
DOCUMENT: dict[str, Any] = {
    "key": "hr",
    "version": 1,
    "intake_form": {
        "properties": {
            "title": {"type": "string", "x-sensitivity": "public"},
            "salary": {"type": "number", "x-sensitivity": "restricted"},
        }
    },
}
TICKET: dict[str, Any] = {
    "key": "HR-1",
    "title": "Pay",
    "requester": "rita",
    "intake": {"title": "Pay", "salary": 9000},
}
READERS = [
    Subject(user="rita", role="requester", home="sales", owner=True),
    Subject(user="dana", role="agent", home="hr"),
    Subject(user="root", role="admin", home="it"),
]


async def _store_and_read(session: Any, ptype: str, rule: tuple[str, ...]) -> None:
    """Store the rule through the policy service, then load the policy and read a ticket."""
    change = {"session": session, "ptype": ptype, "rule": rule, "add": True, "actor": "property"}
    rows = await session.scalar(select(func.count()).select_from(PolicyRuleRow))
    problems = rule_problems(ptype, rule)
    event("accepted" if not problems else "refused")
    if problems:
        with pytest.raises(InvalidRule):
            await change_rule(**change, reason="property", now=datetime.now(UTC))
        assert await session.scalar(select(func.count()).select_from(PolicyRuleRow)) == rows
        return
    await change_rule(**change, reason="property", now=datetime.now(UTC))
    # What the adapter hands Casbin is the line the rule is stored as: it must split back
    # into exactly these values.
    assert _extract_tokens(", ".join([ptype, *rule])) == [ptype, *rule]
    access = AccessControl()
    access.install(await db_enforcer(session), version=1)
    catalog = catalog_from_document(DOCUMENT)
    for subject in READERS:
        view = access.view(subject, ticket_domains("hr", TICKET["intake"]), catalog)
        redact(TICKET, view, TICKET_SHAPE)
        access.list_scope(subject)


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(ptype_rule=st.one_of(st.tuples(st.just("p"), P_RULES), st.tuples(st.just("g"), G_RULES)))
async def test_no_accepted_rule_breaks_a_later_ticket_read(
    tmp_path: Path, ptype_rule: tuple[str, tuple[str, ...]]
) -> None:
    ptype, rule = ptype_rule
    async with migrated_sessions(sqlite_url(tmp_path)) as sessions, sessions() as session:
        await _store_and_read(session, ptype, rule)
        await session.rollback()


@pytest.mark.parametrize(
    ("ptype", "rule", "field"),
    [
        ("p", ("role:a)", "*", "ticket.*", "read", "public", "allow"), "subject"),
        ("p", ("role:a]", "*", "ticket.*", "read", "public", "allow"), "subject"),
        ("p", ("role:a", "it/(x", "ticket.*", "read", "public", "allow"), "domain"),
        ("p", ("role:a", "*", "ticket.a, ticket.b", "read", "public", "allow"), "object"),
        ("p", ("role:a", "*", "ticket.*", "delete", "public", "allow"), "action"),
        ("p", ("role:a", "*", "ticket.*", "read", "secret", "allow"), "clearance"),
        ("p", ("role:a", "*", "ticket.*", "read", "public", "maybe"), "effect"),
        ("g", ("user:a[", "role:b", "*"), "user"),
        ("g", ("user:a", "user:b", "*"), "role"),
        ("g", ("user:a", "role:b", "{home}/*"), "domain"),
    ],
)
def test_each_column_names_its_own_problem(ptype: str, rule: tuple[str, ...], field: str) -> None:
    assert [name for name, _ in rule_problems(ptype, rule)] == [field]


async def test_a_bracket_in_a_subject_is_refused_and_tickets_stay_readable(api: Api) -> None:
    await publish_sensitive(api)
    key = (await file(api, "rita", title="Printer")).json()["key"]
    for subject in ("agent)", "role:agent)", "role:x]", "user:(rita"):
        refused = await api.http.post(
            "/policies",
            json={"subject": subject, "object": "ticket.*", "action": "read", "reason": "r"},
            headers=api.auth("root"),
        )
        assert refused.status_code == 422, (subject, refused.text)
        assert refused.headers["content-type"] == "application/problem+json"
        assert [e["pointer"] for e in refused.json()["errors"]] == ["/subject"]
    linked = await api.http.post(
        "/policies/roles",
        json={"user": "user:rita", "role": "role:x)", "reason": "r"},
        headers=api.auth("root"),
    )
    assert linked.status_code == 422
    assert [e["pointer"] for e in linked.json()["errors"]] == ["/role"]
    detail = await api.http.get(f"/tickets/{key}", headers=api.auth("rita"))
    assert detail.status_code == 200, detail.text
    assert (await api.http.get("/tickets", headers=api.auth("dana"))).status_code == 200
