"""A user's name never meets a role's rules: typed subjects, reserved names, the migration.

Before, users and roles shared one namespace in the policy: a requester called `admin` held the
admin role's `p, admin, *, *, *, restricted, allow` and read every field of every ticket.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import func, insert, select

from policies.access import AccessControl
from policies.decisions import Subject
from policies.enforcer import db_enforcer
from store.access import list_rules, policy_version
from store.db import make_sync_engine
from store.migrate import alembic_config, upgrade_database
from store.models import PolicyRuleRow, UserRow
from store.users import InvalidUser, add_user, hash_token, new_token
from tests.api.access_helpers import file, publish_sensitive
from tests.api.conftest import Api
from tests.dbutil import database_params, fresh_database, migrated_sessions, sqlite_url

RESERVED = [
    *("admin", "auditor", "agent", "requester", "process_owner", "system"),
    *("sla", "triage", "role:admin", "user:bob", "dept:hr", "@owner", "@x", "*", "a*b"),
    *("x)", "x]", "a,b", "a b", ""),
]


@pytest.mark.parametrize("name", RESERVED)
async def test_reserved_and_unusable_names_cannot_be_users(name: str, tmp_path: Path) -> None:
    async with migrated_sessions(sqlite_url(tmp_path)) as sessions:
        async with sessions() as session, session.begin():
            with pytest.raises(InvalidUser):
                await add_user(
                    session=session,
                    name=name,
                    department="sales",
                    role="requester",
                    now=datetime.now(UTC),
                )
        async with sessions() as session:
            assert await session.scalar(select(func.count()).select_from(UserRow)) == 0


async def _legacy_user(api: Api, name: str) -> None:
    """A requester of this name, stored as one created before names were reserved."""
    token = new_token()
    async with api.sessions() as session, session.begin():
        session.add(
            UserRow(
                name=name,
                department="sales",
                role="requester",
                token_hash=hash_token(token),
                created_at=datetime.now(UTC),
                note="",
            )
        )
    api.tokens[name] = token


async def test_a_user_named_like_a_role_holds_nothing_of_its_rules(api: Api) -> None:
    await publish_sensitive(api)
    filed = await file(api, "root", title="Payroll", notes="n", phone="13812345678", salary=1)
    assert filed.status_code == 201, filed.text
    key = filed.json()["key"]
    for name in ("admin", "auditor", "agent"):
        await _legacy_user(api, name)
        detail = await api.http.get(f"/tickets/{key}", headers=api.auth(name))
        assert detail.status_code == 404, (name, detail.text)
        listed = await api.http.get("/tickets", headers=api.auth(name))
        assert listed.json()["items"] == [], name
    # The roles themselves still hold their rules.
    assert (await api.http.get(f"/tickets/{key}", headers=api.auth("root"))).json()["intake"][
        "salary"
    ] == 1
    audrey = await api.http.get(f"/tickets/{key}", headers=api.auth("audrey"))
    assert audrey.json()["intake"]["phone"] == "13812345678"


async def test_the_policy_api_takes_only_typed_subjects(api: Api) -> None:
    rule = {"object": "ticket.title", "action": "read", "reason": "r"}
    for subject in ("agent", "admin", "owner", "users:x", "user:", "role:a b", "@other"):
        refused = await api.http.post(
            "/policies", json={**rule, "subject": subject}, headers=api.auth("root")
        )
        assert refused.status_code == 422, subject
        assert [e["pointer"] for e in refused.json()["errors"]] == ["/subject"]
    link = {"user": "user:sam", "role": "role:auditor", "reason": "r"}
    for field, value in (("user", "sam"), ("role", "auditor"), ("role", "user:rita")):
        refused = await api.http.post(
            "/policies/roles", json={**link, field: value}, headers=api.auth("root")
        )
        assert refused.status_code == 422, (field, value)
        assert [e["pointer"] for e in refused.json()["errors"]] == [f"/{field}"]
    for subject in ("user:sam", "role:agent", "group:night-shift", "dept:sales", "@owner"):
        added = await api.http.post(
            "/policies", json={**rule, "subject": subject}, headers=api.auth("root")
        )
        assert added.status_code == 201, (subject, added.text)
    linked = await api.http.post("/policies/roles", json=link, headers=api.auth("root"))
    assert linked.status_code == 201, linked.text


LEGACY = [
    ("p", "hr_lead", "hr/*", "ticket.*", "read", "restricted", "allow"),
    ("p", "rosa", "*", "ticket.title", "read", "public", "allow"),
    ("p", "special", "*", "ticket.notes", "read", "internal", "allow"),
    ("g", "carol", "senior_agent", "*"),
    ("g", "senior_agent", "agent", "*"),
    ("g", "hana", "hr_lead", "hr/*"),
    ("g", "rita", "special", "*"),
    ("g", "auditor", "special", "*"),
]


@pytest.fixture(params=database_params())
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database (the API tests' are migrated already): the test migrates it in steps."""
    with fresh_database(request.param, tmp_path) as url:
        yield url


async def test_the_migration_types_existing_rules(empty_database_url: str) -> None:
    url = empty_database_url
    command.upgrade(alembic_config(url=url), "0006_sandboxes")
    engine = make_sync_engine(url)
    with engine.begin() as connection:
        for ptype, *values in LEGACY:
            columns = dict(zip(("v0", "v1", "v2", "v3", "v4", "v5"), values, strict=False))
            connection.execute(insert(PolicyRuleRow).values(ptype=ptype, **columns))
        before = connection.scalar(select(func.count()).select_from(PolicyRuleRow))
    engine.dispose()
    upgrade_database(url=url)
    async with migrated_sessions(url) as sessions, sessions() as session:
        p_rules = {tuple(r) for r in await list_rules(session=session, ptype="p")}
        g_rules = {tuple(r) for r in await list_rules(session=session, ptype="g")}
        # Migration 0015_care adds the rules on customer fields; nothing else is added or lost.
        ticket_rules = {r for r in p_rules if not r[2].startswith("customer.")}
        assert len(ticket_rules) + len(g_rules) == before
        assert {
            ("role:hr_lead", "hr/*", "ticket.*", "read", "restricted", "allow"),
            ("user:rosa", "*", "ticket.title", "read", "public", "allow"),
            ("role:special", "*", "ticket.notes", "read", "internal", "allow"),
            ("@owner", "*", "ticket.*", "read", "internal", "allow"),
            ("role:admin", "*", "*", "*", "restricted", "allow"),
            ("role:requester", "*", "ticket.internal_comments", "write", "public", "deny"),
        } <= p_rules
        assert g_rules == {
            ("user:carol", "role:senior_agent", "*"),
            ("role:senior_agent", "role:agent", "*"),
            ("user:hana", "role:hr_lead", "hr/*"),
            ("user:rita", "role:special", "*"),
            # A built-in role's name on the member side is the role, not a user.
            ("role:auditor", "role:special", "*"),
        }
        assert all(r[0] == "@owner" or ":" in r[0] for r in p_rules)
        # 0008 moved the version once and 0015_care (the customer rules) once more.
        assert await policy_version(session=session) == 4
        access = AccessControl()
        access.install(await db_enforcer(session), version=4)

    def reads(user: str, role: str, field: str, sensitivity: str, domain: str = "hr/-") -> bool:
        subject = Subject(user=user, role=role, home="sales")
        return access.decision(subject, domain).allows(f"ticket.{field}", "read", sensitivity)

    # An existing user whose name is a role's gets nothing from that role's rules.
    assert not reads("admin", "requester", "salary", "restricted")
    assert not reads("auditor", "requester", "notes", "internal")
    assert not reads("hr_lead", "requester", "salary", "restricted")
    assert reads("root", "admin", "salary", "restricted")
    assert reads("hana", "requester", "salary", "restricted")
    assert reads("rita", "requester", "notes", "internal")
    assert reads("carol", "requester", "title", "internal", domain="sales/-")
    assert reads("rosa", "requester", "title", "public")
    assert not reads("rosa", "requester", "notes", "internal")
