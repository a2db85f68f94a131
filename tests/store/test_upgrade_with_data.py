"""A database written by the previous release upgrades to head with every row intact.

The previous release's schema head is 0012_devices: the ticket engine with SLA clocks,
triage, field access, sandboxes, notifications, automated stages and the device registry.
Deliverables (0014) and everything after them (care, feedback, problems, recurrence, the
outbox, sentiment) came in this release, so every migration of this release runs over data.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from alembic import command
from sqlalchemy import Engine, MetaData, insert, select, update

from store.db import make_async_engine, make_sessionmaker, make_sync_engine
from store.migrate import alembic_config, pending_model_diff
from store.models import Base, PolicyRuleRow, TicketRow

PREVIOUS_RELEASE = "0012_devices"
AT = datetime(2026, 11, 3, 9, 30, tzinfo=UTC)
LATER = AT + timedelta(hours=2)
INCIDENT = {
    "key": "it-incident", "title": "IT incident", "key_prefix": "INC", "department": "service-desk",
    "intake_form": {"type": "object", "properties": {"title": {"type": "string"}}},
    "stages": [{"key": "fix", "title": "Fix", "group": "ops", "kind": "task"}],
}  # fmt: skip
TASK = {"task": "INC-000001:fix:1", "stage": "fix"}
# One realistic row per table of the previous release, as its code wrote them.
ROWS: dict[str, list[dict[str, Any]]] = {
    "definitions": [{
        "key": "it-incident", "version": 1, "title": "IT incident", "department": "service-desk",
        "key_prefix": "INC", "document": INCIDENT, "published_at": AT, "published_by": "owner",
    }],
    "forms": [{
        "key": "vpn-report", "version": 2, "title": "VPN report",
        "schema": {"type": "object", "properties": {"site": {"type": "string"}}},
        "published_at": AT, "published_by": "owner",
    }],
    "tickets": [
        {
            "key": "INC-000001", "definition_key": "it-incident", "definition_version": 1,
            "department": "service-desk", "title": "VPN drops every few minutes", "status": "open",
            "requester": "rita", "intake": {"title": "VPN drops every few minutes", "site": "HQ"},
            "created_at": AT, "updated_at": LATER, "resolved_at": None, "closed_at": None,
            "last_seq": 3, "priority": "P2", "waiting_for": None, "parent_key": None,
        },
        {
            "key": "INC-000002", "definition_key": "it-incident", "definition_version": 1,
            "department": "service-desk", "title": "Printer jam, 3rd floor", "status": "closed",
            "requester": "sam", "intake": {"title": "Printer jam, 3rd floor"},
            "created_at": AT, "updated_at": LATER, "resolved_at": LATER, "closed_at": LATER,
            "last_seq": 1, "priority": "P4", "waiting_for": None, "parent_key": "INC-000001",
        },
    ],
    "tasks": [{
        "id": "INC-000001:fix:1", "ticket_key": "INC-000001", "stage_key": "fix", "title": "Fix",
        "group_name": "ops", "status": "claimed", "assignee": "otto", "round": 1, "opened_at": AT,
        "claimed_at": LATER, "completed_at": None, "completed_by": None, "data": {},
        "kind": "stage", "until": None, "child": None, "error": None,
    }],
    "ticket_events": [
        {"ticket_key": "INC-000001", "seq": 1, "type": "ticket_created", "at": AT,
         "actor": "rita", "data": {"title": "VPN drops every few minutes", "priority": "P2"}},
        {"ticket_key": "INC-000001", "seq": 2, "type": "task_opened", "at": AT, "actor": "system",
         "data": {**TASK, "group": "ops", "assignee": None}},
        {"ticket_key": "INC-000001", "seq": 3, "type": "task_claimed", "at": LATER,
         "actor": "otto", "data": {**TASK, "group": "ops", "assignee": "otto"}},
        {"ticket_key": "INC-000002", "seq": 1, "type": "ticket_created", "at": AT,
         "actor": "sam", "data": {"title": "Printer jam, 3rd floor", "priority": "P4"}},
    ],
    "ticket_participants": [
        {"ticket_key": "INC-000001", "kind": "group", "name": "ops"},
        {"ticket_key": "INC-000001", "kind": "user", "name": "otto"},
    ],
    "key_sequences": [{"prefix": "INC", "last_value": 2}],
    "idempotency_keys": [{
        "user_name": "rita", "key": "3f1c2b7e-create", "request_hash": "a" * 64,
        "ticket_key": "INC-000001", "created_at": AT,
    }],
    "users": [
        {"name": "rita", "department": "sales", "role": "requester", "token_hash": "1" * 64,
         "created_at": AT, "note": ""},
        {"name": "otto", "department": "ops", "role": "agent", "token_hash": "2" * 64,
         "created_at": AT, "note": "on call"},
    ],
    "sla_clocks": [{
        "ticket_key": "INC-000001", "clock_id": "stage:fix:1", "stage_key": "fix", "round": 1,
        "milestone": True, "calendar": "24x7", "state": "running", "target_seconds": 7200.0,
        "started_at": AT, "elapsed_seconds": 1800.0, "paused_seconds": 0.0,
        "running_since": AT, "paused_since": None, "stopped_at": None, "breached_at": None,
        "fired": [0], "last_seq": 2,
    }],
    "sla_events": [{
        "ticket_key": "INC-000001", "seq": 1, "clock_id": "stage:fix:1", "type": "rung_fired",
        "at": LATER, "rung": 0, "due_at": LATER, "data": {"name": "half"},
    }],
    "notifications": [{
        "ticket_key": "INC-000001", "seq": 1, "recipient": "user:otto",
        "subject": "SLA half on fix", "body": "half of the fix target has passed",
        "channel": "inbox", "status": "unread", "created_at": LATER,
        "parts": {"clock": "stage:fix:1", "stage": "fix", "rung": "half"},
    }],
    "calendars": [{
        "key": "office-hours", "version": 1, "title": "Office hours", "timezone": "Europe/Berlin",
        "document": {"hours": {"mon": ["09:00-17:00"]}, "holidays": ["2026-12-25"]},
        "published_at": AT, "published_by": "owner",
    }],
    "triage_models": [{
        "version": 1, "created_at": AT, "status": "active", "path": "triage/model-1.joblib",
        "sha256": "b" * 64, "training_size": 240, "metrics": {"macro_f1": 0.81},
        "features": {"text": ["title"]}, "note": "first model",
    }],
    "triage_outcomes": [{
        "ticket_key": "INC-000001", "definition_key": "it-incident", "created_at": AT,
        "ticket": {"title": "VPN drops every few minutes"}, "model_version": 1,
        "predicted_team": "ops", "confidence": 0.92, "category": "network", "priority": "P2",
        "auto_routed": True, "first_team": "ops", "final_team": "ops", "reassignments": 0,
        "resolved_at": None,
    }],
    "triage_labels": [{
        "ticket_key": "INC-000001", "seq": 2, "team": "ops", "category": "network",
        "priority": "P2", "source": "routed", "reason": "", "actor": "triage", "at": AT,
    }],
    "duplicate_reports": [{
        "id": 1, "ticket_key": "INC-000001", "requester": "sam", "title": "VPN keeps dropping",
        "similarity": 0.87, "created_at": LATER,
    }],
    "casbin_rule": [{
        "ptype": "p", "v0": "group:ops", "v1": "service-desk/*", "v2": "ticket.intake.site",
        "v3": "read", "v4": "internal", "v5": "allow",
    }],
    "permission_audit": [{
        "seq": 1, "at": AT, "actor": "root", "action": "add", "before": {},
        "after": {"subject": "group:ops", "field": "ticket.intake.site"},
        "reason": "ops read the site", "prev_hash": "0" * 64, "hash": "c" * 64,
    }],
    "field_access": [{
        "role": "agent", "field": "ticket.intake.site", "action": "read", "day": "2026-11-03",
        "count": 12, "last_at": LATER,
    }],
    "devices": [{
        "device_id": "pump-7", "version": 1, "site": "plant-a", "model": "pump-x2",
        "protocol": "modbus",
        "document": {"endpoint": "tcp://127.0.0.1:5020", "points": [{"name": "flow"}]},
        "registered_at": AT, "registered_by": "root",
    }],
    "device_snapshots": [{
        "id": 1, "device_id": "pump-7", "device_version": 1, "site": "plant-a", "taken_at": LATER,
        "sha256": "d" * 64, "document": {"values": {"flow": 12.5}}, "ticket_key": "INC-000001",
    }],
}  # fmt: skip
# Rows the previous release's migrations seeded; the test changes, not inserts, these.
SEEDED = {"policy_state"}
POLICY_STATE = {"version": 7, "audit_head": "c" * 64, "audit_count": 1}


def _plain(value: object) -> object:
    """A value as comparable across dialects: datetimes in naive UTC."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
    return value


def _rows(engine: Engine) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table, as plain dicts, in primary-key order."""
    schema = MetaData()
    schema.reflect(engine)
    with engine.connect() as connection:
        return {
            name: [
                {k: _plain(v) for k, v in row._mapping.items()}
                for row in connection.execute(select(table).order_by(*table.primary_key.columns))
            ]
            for name, table in schema.tables.items()
            if name != "alembic_version"
        }


# Columns added with values read from the old rows rather than a default.
DERIVED = {"tickets": {"departments"}}


def _names(value: Any) -> list[str]:
    """A text[] (PostgreSQL) or JSON array (SQLite) column as read without the models."""
    return list(json.loads(value) if isinstance(value, str) else value)


def _write_previous_release(engine: Engine) -> None:
    """The rows above, through the schema as it stands at the previous release."""
    schema = MetaData()
    schema.reflect(engine)
    assert set(schema.tables) - {"alembic_version"} == set(ROWS) | SEEDED, "a table has no row"
    for name, rows in ROWS.items():
        assert set(rows[0]) <= set(schema.tables[name].columns.keys()), name
    with engine.begin() as connection:
        for name in schema.sorted_tables:  # parents before the rows that refer to them
            if name.name in ROWS:
                connection.execute(insert(name), ROWS[name.name])
        connection.execute(update(schema.tables["policy_state"]).values(POLICY_STATE))


async def _current_code_reads(url: str) -> tuple[list[str], int]:
    """Every mapped table read through today's models; the tickets' keys and rule count."""
    engine = make_async_engine(url)
    try:
        async with make_sessionmaker(engine)() as session:
            for mapper in Base.registry.mappers:
                (await session.scalars(select(mapper.class_))).all()
            keys = list(await session.scalars(select(TicketRow.key).order_by(TicketRow.key)))
            rules = len((await session.scalars(select(PolicyRuleRow))).all())
            return keys, rules
    finally:
        await engine.dispose()


async def test_the_previous_release_s_data_survives_the_upgrade(database_url: str) -> None:
    config = alembic_config(url=database_url)
    command.upgrade(config, PREVIOUS_RELEASE)
    engine = make_sync_engine(database_url)
    try:
        _write_previous_release(engine)
        before = _rows(engine)
        command.upgrade(config, "head")
        after = _rows(engine)
    finally:
        engine.dispose()

    assert pending_model_diff(url=database_url) == []
    for name, rows in before.items():
        if name in ("casbin_rule", "policy_state"):  # what this release's migrations change
            continue
        kept = [{k: row[k] for k in rows[0]} for row in after[name]] if rows else after[name]
        assert kept == rows, name
        added = set(after[name][0]) - set(rows[0]) - DERIVED.get(name, set()) if rows else set()
        for row in after[name]:
            for column in added:
                default = Base.metadata.tables[name].columns[column].server_default
                arg = getattr(default, "arg", None)
                expected = None if arg is None else str(getattr(arg, "text", arg)).strip("'")
                assert (None if row[column] is None else str(row[column])) == expected, column
    # 0015 grants reading customers: the old rules stay, in order, and the version moves on
    # so that running API processes reload them.
    assert after["casbin_rule"][: len(before["casbin_rule"])] == before["casbin_rule"]
    assert len(after["casbin_rule"]) == len(before["casbin_rule"]) + 4
    assert after["policy_state"] == [{**before["policy_state"][0], "version": 8}]
    assert after["tickets"][0]["category"] is None  # a column this release added to them
    # Owner, the opened task's group and the group participants 0010 read from the events.
    assert [_names(row["departments"]) for row in after["tickets"]] == [
        ["ops", "service-desk"],
        ["service-desk"],
    ]

    keys, rules = await _current_code_reads(database_url)
    assert keys == ["INC-000001", "INC-000002"]
    assert rules == len(after["casbin_rule"])
