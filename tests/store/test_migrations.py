"""Alembic migrations: upgrade an empty database, match the models, downgrade and redo."""

from __future__ import annotations

import io
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import insert, inspect, select, text

from store.db import make_sync_engine
from store.migrate import alembic_config, pending_model_diff, upgrade_database
from store.models import (
    Base,
    OutboxRow,
    SubscriptionRow,
    TaskRow,
    TicketEventRow,
    TicketParticipantRow,
    TicketRow,
)
from store.tickets import TicketFilter, list_query
from tests.dbutil import sqlite_url
from ticketflow.settings import get_settings


def _tables(url: str) -> set[str]:
    engine = make_sync_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_upgrade_head_creates_exactly_the_model_tables(database_url: str) -> None:
    assert _tables(database_url) == set()
    upgrade_database(url=database_url)
    assert _tables(database_url) == set(Base.metadata.tables) | {"alembic_version"}


def test_migrated_database_matches_the_models(database_url: str) -> None:
    upgrade_database(url=database_url)
    assert pending_model_diff(url=database_url) == []


def test_model_diff_notices_a_missing_index(database_url: str) -> None:
    upgrade_database(url=database_url)
    engine = make_sync_engine(database_url)
    try:
        with engine.begin() as connection:
            connection.execute(text("DROP INDEX ix_tickets_requester_created_key"))
    finally:
        engine.dispose()
    diff = pending_model_diff(url=database_url)
    assert [(d[0], d[1].name) for d in diff] == [("add_index", "ix_tickets_requester_created_key")]


def test_downgrade_base_then_upgrade_head(database_url: str) -> None:
    upgrade_database(url=database_url)
    config = alembic_config(url=database_url)
    command.downgrade(config, "base")
    assert _tables(database_url) == {"alembic_version"}
    command.upgrade(config, "head")
    assert _tables(database_url) == set(Base.metadata.tables) | {"alembic_version"}
    assert pending_model_diff(url=database_url) == []


def test_upgrade_is_a_no_op_when_already_at_head(database_url: str) -> None:
    upgrade_database(url=database_url)
    upgrade_database(url=database_url)
    assert pending_model_diff(url=database_url) == []


def test_upgrade_creates_the_sqlite_folder(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "data" / "nested")
    upgrade_database(url=url)
    assert (tmp_path / "data" / "nested" / "ticketflow.db").is_file()


def test_revisions_form_one_line_from_0001() -> None:
    scripts = ScriptDirectory.from_config(alembic_config(url="sqlite://"))
    assert scripts.get_heads() == [scripts.get_current_head()]
    assert scripts.get_base() == "0001"


@pytest.mark.parametrize(
    "url",
    ["postgresql://tf:p%40ss%25w@db.example:5432/tf", "sqlite:////var/lib/tf/ticketflow.db"],
)
def test_config_keeps_the_url_as_given(url: str) -> None:
    config = alembic_config(url=url)
    stored = str(config.get_main_option("sqlalchemy.url"))
    assert stored.split("://", 1)[1] == url.split("://", 1)[1]
    assert Path(str(config.get_main_option("script_location")), "env.py").is_file()


def test_new_revision_on_a_migrated_database_is_empty(tmp_path: Path) -> None:
    copy = tmp_path / "migrations"
    shutil.copytree(
        Path(str(alembic_config(url="sqlite://").get_main_option("script_location"))),
        copy,
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    url = sqlite_url(tmp_path)
    upgrade_database(url=url)
    config = alembic_config(url=url)
    config.set_main_option("script_location", str(copy))
    command.revision(config, message="nothing to do", autogenerate=True, rev_id="0002")
    source = (copy / "versions" / "0002_nothing_to_do.py").read_text()
    compile(source, "0002_nothing_to_do.py", "exec")
    head = ScriptDirectory.from_config(alembic_config(url=url)).get_current_head()
    assert f"down_revision: str | Sequence[str] | None = {head!r}" in source
    assert "op." not in source


def test_offline_mode_writes_the_sql() -> None:
    config = alembic_config(url="postgresql://tf@db.example/tf")
    buffer = io.StringIO()
    config.output_buffer = buffer
    command.upgrade(config, "head", sql=True)
    sql = buffer.getvalue()
    assert "CREATE TABLE tickets" in sql
    assert "JSONB" in sql
    assert "TIMESTAMP WITH TIME ZONE" in sql


def test_url_falls_back_to_the_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = sqlite_url(tmp_path)
    monkeypatch.setenv("TICKETFLOW_DATABASE_URL", url)
    get_settings.cache_clear()
    try:
        config = alembic_config(url=url)
        config.remove_main_option("sqlalchemy.url")
        command.upgrade(config, "head")
    finally:
        get_settings.cache_clear()
    assert _tables(url) == set(Base.metadata.tables) | {"alembic_version"}


def test_participants_are_filled_from_the_events_already_recorded(database_url: str) -> None:
    config = alembic_config(url=database_url)
    command.upgrade(config, "0009_followups")
    at = datetime(2026, 12, 1, tzinfo=UTC)
    ticket = {
        "key": "INC-1", "definition_key": "incident", "definition_version": 1,
        "department": "service-desk", "title": "VPN down", "status": "open", "requester": "rita",
        "intake": {}, "created_at": at, "updated_at": at, "resolved_at": None, "closed_at": None,
        "last_seq": 4, "priority": "P3", "waiting_for": "supplier",
    }  # fmt: skip
    task = {"task": "INC-1:diagnose:1", "stage": "diagnose"}
    events = [
        ("task_opened", "system", {**task, "group": "ops", "assignee": None}),
        ("task_claimed", "otto", {**task, "group": "ops", "assignee": "otto"}),
        ("waiting_started", "otto", {"reason": "supplier", "note": ""}),
        ("task_reassigned", "sla", {**task, "group": "dev", "assignee": None,
                                    "before": {"group": "ops", "assignee": "otto"}}),
        ("comment_added", "dana", {"body": "x", "internal": False}),
    ]  # fmt: skip
    engine = make_sync_engine(database_url)
    try:
        with engine.begin() as connection:
            connection.execute(insert(TicketRow.__table__).values(ticket))
            connection.execute(
                insert(TicketEventRow.__table__),
                [
                    {"ticket_key": "INC-1", "seq": seq, "type": t, "at": at, "actor": a, "data": d}
                    for seq, (t, a, d) in enumerate(events, start=1)
                ],
            )
        command.upgrade(config, "head")
        with engine.connect() as connection:
            rows = connection.execute(select(TicketParticipantRow.__table__)).all()
    finally:
        engine.dispose()
    assert sorted((kind, name) for _key, kind, name in rows) == [
        ("group", "dev"),
        ("group", "ops"),
        ("user", "otto"),
    ]


def test_delivery_attempts_kept_before_usage_get_their_ticket_from_the_outbox(
    database_url: str,
) -> None:
    config = alembic_config(url=database_url)
    command.upgrade(config, "0022_inbound")
    at = datetime(2026, 12, 1, tzinfo=UTC)
    subscription = {
        "id": "sub-1", "owner": "monitor", "owner_role": "system", "owner_department": "it",
        "url": "https://example.test/", "event_types": [], "filter": None, "secret": "s",
        "status": "active", "created_at": at, "paused_at": None, "paused_reason": None,
    }  # fmt: skip
    engine = make_sync_engine(database_url)
    try:
        with engine.begin() as connection:
            connection.execute(insert(SubscriptionRow.__table__).values(subscription))
            connection.execute(
                insert(OutboxRow.__table__),
                [
                    {"ticket_key": "IT-000001", "seq": 12, "type": "created", "at": at},
                    {"ticket_key": "IT-000001-9", "seq": 1, "type": "created", "at": at},
                ],
            )
            for attempt_id, event_id in ((1, "IT-000001-12"), (2, "IT-000001-9-1"), (3, "X-1")):
                connection.execute(
                    text(
                        "INSERT INTO delivery_attempts (id, subscription_id, event_id, "
                        "event_type, attempt, at, outcome) VALUES (:id, 'sub-1', :event, "
                        "'created', 1, :at, 'delivered')"
                    ),
                    {"id": attempt_id, "event": event_id, "at": at},
                )
        command.upgrade(config, "head")
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT id, ticket_key FROM delivery_attempts ORDER BY id")
            ).all()
    finally:
        engine.dispose()
    # A key with a '-' of its own is matched whole; an event no outbox row has stays unknown.
    assert [tuple(row) for row in rows] == [(1, "IT-000001"), (2, "IT-000001-9"), (3, None)]


def test_tickets_get_their_departments_from_the_tasks_and_participants_already_kept(
    database_url: str,
) -> None:
    config = alembic_config(url=database_url)
    command.upgrade(config, "0026_list_indexes")
    at = datetime(2026, 12, 1, tzinfo=UTC)

    def ticket(key: str, department: str) -> dict[str, object]:
        return {
            "key": key, "definition_key": "incident", "definition_version": 1,
            "department": department, "title": "t", "status": "open", "requester": "rita",
            "intake": {}, "created_at": at, "updated_at": at, "resolved_at": None,
            "closed_at": None, "last_seq": 1, "priority": "P3", "waiting_for": None,
            "parent_key": None, "category": None,
        }  # fmt: skip

    def task(key: str, stage: str, group: str, status: str, opened: bool) -> dict[str, object]:
        return {
            "id": f"{key}:{stage}:1", "ticket_key": key, "stage_key": stage, "kind": "stage",
            "title": stage, "group_name": group, "status": status, "round": 1,
            "opened_at": at if opened else None, "data": {},
        }  # fmt: skip

    tasks = [
        task("INC-1", "a", "ops", "open", True),
        task("INC-1", "b", "dev", "pending", False),  # a future stage gives nothing
        task("INC-1", "c", "field", "cancelled", True),
        task("INC-1", "d", "qa", "cancelled", False),
        task("INC-1", "e", "desk", "done", True),  # the owner, once
        task("INC-2", "a", "ops", "claimed", True),
    ]
    participants = [
        ("INC-1", "group", "care"),
        ("INC-1", "user", "otto"),
        ("INC-2", "group", "dev"),
    ]
    engine = make_sync_engine(database_url)
    try:
        with engine.begin() as connection:
            tickets = [ticket("INC-1", "desk"), ticket("INC-2", "it"), ticket("INC-3", "hr")]
            # The model's tables, naming only the columns the old revision has.
            connection.execute(insert(TicketRow.__table__), tickets)
            connection.execute(insert(TaskRow.__table__), tasks)
            connection.execute(
                insert(TicketParticipantRow.__table__),
                [{"ticket_key": k, "kind": kind, "name": name} for k, kind, name in participants],
            )
        command.upgrade(config, "head")
        with engine.connect() as connection:
            found = dict(connection.execute(select(TicketRow.key, TicketRow.departments)).all())
            involving_dev = connection.scalars(
                list_query(TicketFilter(department="dev"), 10, None)
            ).all()
    finally:
        engine.dispose()
    assert found == {
        "INC-1": ["care", "desk", "field", "ops"],
        "INC-2": ["dev", "it", "ops"],
        "INC-3": ["hr"],
    }
    assert list(involving_dev) == ["INC-2"]
