"""Truth tables in pycasbin's style, against the file-backed and the database-backed enforcer.

Each row is (user, role, relation, home, domain, object, action, sensitivity) -> allowed, with
plain names as the users table holds them; the request typed from them (`Subject.principals`)
is what the enforcer is asked. The same rows check the per-subject decision cache
(policies.decisions) against `enforce`.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from policies.decisions import Rule, Subject, decide
from policies.enforcer import db_enforcer, file_enforcer
from policies.management import change_rule
from store.access import list_rules
from tests.dbutil import database_params, fresh_database, migrated_sessions

POLICY = Path(__file__).with_name("truth_policy.csv")

# fmt: off
TRUTH_TABLE = [
    # Department agents: their home department, any site, up to confidential.
    ("dana", "agent", "@other", "it", "it/-", "ticket.title", "read", "internal", True),
    ("dana", "agent", "@other", "it", "it/plant-a", "ticket.phone", "read", "confidential", True),
    ("dana", "agent", "@other", "it", "it/-", "ticket.salary", "read", "restricted", False),
    ("dana", "agent", "@other", "it", "hr/-", "ticket.title", "read", "internal", False),
    ("dana", "agent", "@other", "it", "it/-", "ticket.title", "write", "internal", True),
    ("dana", "agent", "@other", "it", "it/-", "ticket.title", "read_masked", "internal", False),
    # Requesters: their own tickets, public and internal; phone masked at most.
    ("rita", "requester", "@owner", "sales", "it/-", "ticket.title", "read", "public", True),
    ("rita", "requester", "@owner", "sales", "it/-", "ticket.notes", "read", "internal", True),
    ("rita", "requester", "@owner", "sales", "it/-", "ticket.phone", "read", "confidential", False),
    ("rita", "requester", "@owner", "sales", "it/-", "ticket.phone", "read_masked", "confidential", True),  # noqa: E501
    ("rita", "requester", "@other", "sales", "it/-", "ticket.title", "read", "public", False),
    ("rita", "requester", "@owner", "sales", "it/-", "ticket.title", "write", "public", False),
    # Auditors: everything up to confidential, never salary, never writes.
    ("audrey", "auditor", "@other", "audit", "hr/x", "ticket.phone", "read", "confidential", True),
    ("audrey", "auditor", "@other", "audit", "hr/x", "ticket.salary", "read", "internal", False),
    ("audrey", "auditor", "@other", "audit", "hr/x", "ticket.secret", "read", "restricted", False),
    ("audrey", "auditor", "@other", "audit", "hr/x", "ticket.title", "write", "public", False),
    # Role inheritance: carol -> senior_agent -> agent, in every domain.
    ("carol", "requester", "@other", "it", "it/-", "ticket.title", "read", "internal", True),
    ("carol", "requester", "@other", "it", "ops/-", "ticket.title", "read", "internal", False),
    # Site limits: frank reads device fields of plant-a tickets in ops only.
    ("frank", "requester", "@other", "x", "ops/plant-a", "ticket.device_id", "read", "internal", True),  # noqa: E501
    ("frank", "requester", "@other", "x", "ops/plant-b", "ticket.device_id", "read", "internal", False),  # noqa: E501
    ("frank", "requester", "@other", "x", "ops/plant-a", "ticket.title", "read", "internal", False),
    ("frank", "requester", "@other", "x", "ops/plant-a", "ticket.device_id", "read", "confidential", False),  # noqa: E501
    # A role held in one domain only: hana reads restricted HR fields, nothing elsewhere.
    ("hana", "requester", "@other", "x", "hr/-", "ticket.salary", "read", "restricted", True),
    ("hana", "requester", "@other", "x", "it/-", "ticket.salary", "read", "restricted", False),
    # A clearance cap: tina is an agent, but as a trainee nothing from confidential up.
    ("tina", "agent", "@other", "it", "it/-", "ticket.title", "read", "internal", True),
    ("tina", "agent", "@other", "it", "it/-", "ticket.phone", "read", "confidential", False),
    ("tina", "agent", "@other", "it", "it/-", "ticket.title", "write", "internal", True),
    # Typed subjects: a user whose name is a role's holds nothing of that role's rules.
    ("admin", "requester", "@other", "sales", "it/-", "ticket.title", "read", "public", False),
    ("auditor", "requester", "@other", "sales", "hr/x", "ticket.phone", "read", "confidential", False),  # noqa: E501
    ("agent", "requester", "@other", "it", "it/-", "ticket.title", "read", "internal", False),
    ("root", "admin", "@other", "it", "hr/x", "ticket.salary", "write", "restricted", True),
    # A rule for one user, and none for a role of that name.
    ("rosa", "requester", "@other", "sales", "hr/-", "ticket.title", "read", "public", True),
    ("rosa", "requester", "@other", "sales", "hr/-", "ticket.notes", "read", "internal", False),
    ("dana", "agent", "@other", "it", "hr/-", "ticket.title", "read", "public", False),
    # A department's members: everyone whose home is facilities, whatever their role.
    ("fay", "requester", "@other", "facilities", "ops/plant-a", "ticket.site", "read", "internal", True),  # noqa: E501
    ("fay", "requester", "@other", "facilities", "ops/plant-a", "ticket.title", "read", "public", False),  # noqa: E501
    ("dana", "agent", "@other", "it", "ops/plant-a", "ticket.site", "read", "internal", False),
    # A group: nico reads notes in it as a member, and the group's trainee cap applies.
    ("nico", "requester", "@other", "x", "it/-", "ticket.notes", "read", "internal", True),
    ("nico", "requester", "@other", "x", "ops/-", "ticket.notes", "read", "internal", False),
    ("nico", "agent", "@other", "it", "it/-", "ticket.phone", "read", "confidential", False),
    # Unknown sensitivities and actions are denied.
    ("dana", "agent", "@other", "it", "it/-", "ticket.title", "read", "top-secret", False),
    ("dana", "agent", "@other", "it", "it/-", "ticket.title", "delete", "public", False),
]
# fmt: on


def _policy_lines() -> Iterator[tuple[str, list[str]]]:
    with POLICY.open() as handle:
        for row in csv.reader(handle, skipinitialspace=True):
            if row:
                yield row[0], row[1:]


def _check(enforcer: Any) -> None:
    rules = tuple(Rule.from_line(line) for line in enforcer.get_policy())
    for *request, expected in TRUTH_TABLE:
        user, role, rel, home, domain, obj, act, sens = request
        subject = Subject(user=user, role=role, home=home, owner=rel == "@owner")
        assert enforcer.enforce(*subject.principals, domain, obj, act, sens) is expected, request
        decision = decide(enforcer, rules, subject, domain)
        assert decision.allows(obj, act, sens) is expected, request


def test_file_backed_enforcer_follows_the_truth_table() -> None:
    _check(file_enforcer(POLICY))


@pytest.mark.parametrize("kind", database_params())
async def test_database_backed_enforcer_follows_the_truth_table(kind: str, tmp_path: Path) -> None:
    with fresh_database(kind, tmp_path, migrated=True) as url:
        async with migrated_sessions(url) as sessions:
            async with sessions() as session, session.begin():
                for ptype in ("p", "g"):
                    for rule in await list_rules(session=session, ptype=ptype):
                        await change_rule(
                            session=session,
                            ptype=ptype,
                            rule=rule,
                            add=False,
                            actor="test",
                            reason="start from nothing",
                            now=datetime.now(UTC),
                        )
                for ptype, rule in _policy_lines():
                    await change_rule(
                        session=session,
                        ptype=ptype,
                        rule=rule,
                        add=True,
                        actor="test",
                        reason="truth table",
                        now=datetime.now(UTC),
                    )
            async with sessions() as session:
                enforcer = await db_enforcer(session)
            _check(enforcer)


def test_decision_cache_agrees_with_enforce_on_random_requests() -> None:
    enforcer = file_enforcer(POLICY)
    rules = tuple(Rule.from_line(line) for line in enforcer.get_policy())
    pick = random.Random(7).choice
    users = ["dana", "rita", "audrey", "carol", "frank", "hana", "tina", "zed", "nico", "agent"]
    roles = ["agent", "requester", "auditor", "field_engineer", "hr_lead", "trainee", "admin"]
    for _ in range(2000):
        request = (
            pick(users),
            pick(roles),
            pick(["@owner", "@other"]),
            pick(["it", "ops", "hr", "facilities"]),
            pick(["it/-", "ops/plant-a", "ops/plant-b", "hr/-", "sales/x"]),
            pick(
                ["ticket.title", "ticket.phone", "ticket.salary", "ticket.device_id", "ticket.site"]
            ),
            pick(["read", "write", "read_masked"]),
            pick(["public", "internal", "confidential", "restricted"]),
        )
        user, role, rel, home, domain, obj, act, sens = request
        subject = Subject(user=user, role=role, home=home, owner=rel == "@owner")
        decision = decide(enforcer, rules, subject, domain)
        answer = enforcer.enforce(*subject.principals, domain, obj, act, sens)
        assert decision.allows(obj, act, sens) is answer, request
