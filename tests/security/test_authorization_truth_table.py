"""Roles x actions x sensitivities against the default policy and the role rules.

Each cell is what the API would decide: the Casbin policy a fresh install has (the migrated
database, read by the real enforcer) combined with policies/authorization.py, through the same
FieldView the views use. A ticket of department ops; every field (form and system fields
alike) is given the column's sensitivity and is maskable, so each column asks "a field of
this sensitivity".
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from policies.access import AccessControl, ticket_domains
from policies.authorization import (
    CREATE_TICKETS,
    creation_writes,
    may_call,
    may_update,
    refused_writes,
    update_writes,
)
from policies.catalog import SYSTEM_FIELDS, FieldCatalog, FieldSpec
from policies.decisions import Subject
from policies.enforcer import SENSITIVITY, db_enforcer
from policies.redaction import FieldView
from tests.dbutil import database_params, fresh_database, migrated_sessions

DEPARTMENT = "ops"
FIELD = "answer"  # a form field

# Who asks, and whether they requested the ticket.
CALLERS: dict[str, tuple[Subject, bool]] = {
    "requester-owner": (Subject(user="rita", role="requester", home="sales"), True),
    "requester-other": (Subject(user="sam", role="requester", home="sales"), False),
    "agent-home": (Subject(user="otto", role="agent", home=DEPARTMENT), False),
    "agent-other": (Subject(user="devi", role="agent", home="dev"), False),
    "auditor": (Subject(user="audrey", role="auditor", home="audit"), False),
    "process_owner": (Subject(user="owner", role="process_owner", home="office"), False),
    "system": (Subject(user="monitor", role="system", home="it"), False),
    "admin": (Subject(user="root", role="admin", home="it"), False),
}

# A representative payload per Update (what the route sends, minus the actor).
PAYLOADS: dict[str, dict[str, Any]] = {
    "claim": {"stage_key": "s"},
    "unclaim": {"stage_key": "s"},
    "complete": {"stage_key": "s", "data": {FIELD: "x"}},
    "reassign": {"stage_key": "s", "to_group": "dev", "to_user": "devi", "reason": "r"},
    "comment": {"body": "b", "internal": False},
    "comment/internal": {"body": "b", "internal": True},
    "cancel": {"reason": "r"},
    "reopen": {"reason": "r", "stages": None},
    "confirm": {"comment": "thanks"},
    "set_priority": {"priority": "P1", "reason": "r"},
    "pause": {"reason": "customer", "note": ""},
    "resume": {"note": ""},
    "dispatch": {"team": "ops", "category": None, "priority": "P2", "reason": ""},
}

# One letter per sensitivity, public, internal, confidential, restricted: Y allow, N deny.
# read: shown in clear; read_masked: shown at all (in clear or masked); write: an intake or
# form field may be written; create: filing the ticket with that field; Updates: the role
# rule and every field the Update writes.
# fmt: off
EXPECTED: dict[str, dict[str, str]] = {
    "requester-owner": {
        "read": "YYNN", "read_masked": "YYYY", "write": "YYYN", "create": "YYYN",
        "claim": "NNNN", "unclaim": "NNNN", "complete": "NNNN", "reassign": "NNNN",
        "comment": "YYYN", "comment/internal": "NNNN", "cancel": "YYYN", "reopen": "YYYN",
        "confirm": "YYYN", "set_priority": "NNNN", "pause": "NNNN", "resume": "YYYN",
        "dispatch": "NNNN",
    },
    "requester-other": {
        "read": "NNNN", "read_masked": "NNNN", "write": "NNNN", "create": "YYYN",
        "claim": "NNNN", "unclaim": "NNNN", "complete": "NNNN", "reassign": "NNNN",
        "comment": "NNNN", "comment/internal": "NNNN", "cancel": "NNNN", "reopen": "NNNN",
        "confirm": "NNNN", "set_priority": "NNNN", "pause": "NNNN", "resume": "NNNN",
        "dispatch": "NNNN",
    },
    "agent-home": {
        "read": "YYYN", "read_masked": "YYYY", "write": "YYYN", "create": "YYYN",
        "claim": "YYYN", "unclaim": "YYYN", "complete": "YYYN", "reassign": "YYYN",
        "comment": "YYYN", "comment/internal": "YYYN", "cancel": "YYYN", "reopen": "YYYN",
        "confirm": "YYYN", "set_priority": "YYYN", "pause": "YYYN", "resume": "YYYN",
        "dispatch": "YYYN",
    },
    "agent-other": {
        "read": "NNNN", "read_masked": "NNNN", "write": "NNNN", "create": "YYYN",
        "claim": "NNNN", "unclaim": "NNNN", "complete": "NNNN", "reassign": "NNNN",
        "comment": "NNNN", "comment/internal": "NNNN", "cancel": "NNNN", "reopen": "NNNN",
        "confirm": "NNNN", "set_priority": "NNNN", "pause": "NNNN", "resume": "NNNN",
        "dispatch": "NNNN",
    },
    "auditor": {
        "read": "YYYN", "read_masked": "YYYN", "write": "NNNN", "create": "NNNN",
        "claim": "NNNN", "unclaim": "NNNN", "complete": "NNNN", "reassign": "NNNN",
        "comment": "NNNN", "comment/internal": "NNNN", "cancel": "NNNN", "reopen": "NNNN",
        "confirm": "NNNN", "set_priority": "NNNN", "pause": "NNNN", "resume": "NNNN",
        "dispatch": "NNNN",
    },
    "process_owner": {
        "read": "YYNN", "read_masked": "YYNN", "write": "NNNN", "create": "YYYN",
        "claim": "NNNN", "unclaim": "NNNN", "complete": "NNNN", "reassign": "NNNN",
        "comment": "NNNN", "comment/internal": "NNNN", "cancel": "NNNN", "reopen": "NNNN",
        "confirm": "NNNN", "set_priority": "NNNN", "pause": "NNNN", "resume": "NNNN",
        "dispatch": "NNNN",
    },
    "system": {
        "read": "YYNN", "read_masked": "YYNN", "write": "NNNN", "create": "YYYN",
        "claim": "NNNN", "unclaim": "NNNN", "complete": "NNNN", "reassign": "NNNN",
        "comment": "NNNN", "comment/internal": "NNNN", "cancel": "NNNN", "reopen": "NNNN",
        "confirm": "NNNN", "set_priority": "NNNN", "pause": "NNNN", "resume": "NNNN",
        "dispatch": "NNNN",
    },
    "admin": {
        "read": "YYYY", "read_masked": "YYYY", "write": "YYYY", "create": "YYYY",
        "claim": "YYYY", "unclaim": "YYYY", "complete": "YYYY", "reassign": "YYYY",
        "comment": "YYYY", "comment/internal": "YYYY", "cancel": "YYYY", "reopen": "YYYY",
        "confirm": "YYYY", "set_priority": "YYYY", "pause": "YYYY", "resume": "YYYY",
        "dispatch": "YYYY",
    },
}
# fmt: on


def _catalog(sensitivity: str) -> FieldCatalog:
    names = (*SYSTEM_FIELDS, FIELD)
    spec = FieldSpec(sensitivity=sensitivity, maskable=True)
    return FieldCatalog(ident=f"truth@{sensitivity}", fields=dict.fromkeys(names, spec))


def _decide(access: AccessControl, caller: str, action: str, sensitivity: str) -> bool:
    subject, own = CALLERS[caller]
    catalog = _catalog(sensitivity)
    as_owner = Subject(user=subject.user, role=subject.role, home=subject.home, owner=own)
    view: FieldView = access.view(as_owner, ticket_domains(DEPARTMENT, {}), catalog)
    if action == "read":
        return view.readable(FIELD)
    if action == "read_masked":
        return view.readable(FIELD) or view.masked(FIELD)
    if action == "write":
        return view.writable(FIELD)
    if action == "create":
        # Filing makes the caller the requester: decided as the owner, like POST /tickets.
        filer = Subject(user=subject.user, role=subject.role, home=subject.home, owner=True)
        filing = access.view(filer, ticket_domains(DEPARTMENT, {}), catalog)
        writes = creation_writes({FIELD: "x"}, priority_given=True)
        return may_call(subject.role, CREATE_TICKETS) and not refused_writes(filing, writes)
    update = action.split("/")[0]
    if not may_update(subject.role, update, own=own):
        return False
    return not refused_writes(view, update_writes(update, PAYLOADS[action]))


@pytest.fixture(params=database_params())
async def default_access(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[AccessControl]:
    """Access control over the policy a freshly migrated database starts with."""
    with fresh_database(request.param, tmp_path, migrated=True) as url:
        async with migrated_sessions(url) as sessions, sessions() as session:
            access = AccessControl()
            access.install(await db_enforcer(session), version=1)
            yield access


async def test_every_role_action_and_sensitivity_is_decided_as_the_table_says(
    default_access: AccessControl,
) -> None:
    wrong = []
    for caller, actions in EXPECTED.items():
        assert set(actions) == {"read", "read_masked", "write", "create", *PAYLOADS}, caller
        for action, letters in actions.items():
            for sensitivity, letter in zip(SENSITIVITY, letters, strict=True):
                decided = _decide(default_access, caller, action, sensitivity)
                if decided != (letter == "Y"):
                    wrong.append((caller, action, sensitivity, "Y" if decided else "N"))
    assert wrong == []


def test_the_table_covers_every_caller_kind() -> None:
    assert set(EXPECTED) == set(CALLERS)
