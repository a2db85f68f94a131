"""Ticket list plans on SQLite: every filter reads its page in keyset order from an index."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, insert, text

from store.db import make_sync_engine
from store.models import TaskRow, TicketParticipantRow, TicketRow
from store.tickets import TicketFilter, encode_cursor, list_query
from tests.dbutil import fresh_database
from tests.store.snapshots import T0

DEPARTMENTS = ("it", "hr", "facilities")

# What api.ticket_access.visible_filter gives a requester, an agent of `it` and an admin.
CALLERS: dict[str, dict[str, Any]] = {
    "requester": {"visible_requester": "user1", "visible_departments": ()},
    "agent": {
        "visible_requester": "agent",
        "visible_departments": ("it",),
        "visible_participant": "agent",
    },
    "admin": {},
}
FILTERS: dict[str, dict[str, Any]] = {
    "definition": {"definition_key": "def-1"},
    "department": {"department": "it"},
    "status": {"status": "open"},
    "definition+department": {"definition_key": "def-1", "department": "it"},
}


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """A migrated SQLite database with some hundred tickets, their tasks and participants."""
    folder: Path = tmp_path_factory.mktemp("plans")
    with fresh_database("sqlite", folder, migrated=True) as url:
        engine = make_sync_engine(url)
        tickets, tasks, participants = [], [], []
        for i in range(300):
            key, department, at = f"T-{i:04d}", DEPARTMENTS[i % 3], T0 + timedelta(minutes=i)
            tickets.append(
                {
                    "key": key,
                    "definition_key": f"def-{i % 4}",
                    "definition_version": 1,
                    "department": department,
                    "title": "t",
                    "status": "open" if i % 2 else "closed",
                    "requester": f"user{i % 20}",
                    "intake": {},
                    "created_at": at,
                    "updated_at": at,
                    "last_seq": 1,
                    "departments": [department],
                }
            )
            tasks.append(
                {
                    "id": f"{key}:s:1",
                    "ticket_key": key,
                    "stage_key": "s",
                    "title": "t",
                    "group_name": department,
                    "status": "open",
                    "round": 1,
                    "opened_at": at,
                    "data": {},
                }
            )
            participants.append({"ticket_key": key, "kind": "group", "name": department})
        with engine.begin() as connection:
            connection.execute(insert(TicketRow), tickets)
            connection.execute(insert(TaskRow), tasks)
            connection.execute(insert(TicketParticipantRow), participants)
            connection.execute(text("ANALYZE"))
        yield engine
        engine.dispose()


def _plan(engine: Engine, filters: TicketFilter, cursor: str | None) -> list[str]:
    sql = list_query(filters, 50, cursor).compile(
        dialect=engine.dialect, compile_kwargs={"literal_binds": True}
    )
    with engine.connect() as connection:
        return [str(row[3]) for row in connection.execute(text(f"EXPLAIN QUERY PLAN {sql}"))]


@pytest.mark.parametrize("deep", [False, True], ids=["first", "deep"])
@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("name", FILTERS)
def test_list_reads_in_index_order_and_probes_the_rest(
    engine: Engine, name: str, caller: str, deep: bool
) -> None:
    cursor = None
    if deep:
        cursor = encode_cursor(TicketRow(created_at=T0 + timedelta(minutes=150), key="T-0150"))
    plan = _plan(engine, TicketFilter(**FILTERS[name], **CALLERS[caller]), cursor)
    # No sort of every match before the first row: the index yields the keyset order.
    assert not [step for step in plan if "TEMP B-TREE" in step], plan
    # Participants are probed per ticket by key, never read whole; the departments are read
    # from the ticket's own array (json_each), tasks not at all.
    scans = [step for step in plan if step.startswith("SCAN") and "tickets" not in step]
    assert all(step.startswith("SCAN json_each VIRTUAL TABLE") for step in scans), plan
    assert not [step for step in plan if " tasks " in f"{step} "], plan
    # Tickets themselves only ever through an index.
    assert all("USING" in step for step in plan if "tickets" in step), plan


@pytest.mark.parametrize("name", ["definition", "status"])
def test_a_column_filter_searches_its_own_index(engine: Engine, name: str) -> None:
    plan = _plan(engine, TicketFilter(**FILTERS[name]), None)
    column = next(iter(FILTERS[name])).removesuffix("_key")
    assert plan[0].startswith(f"SEARCH tickets USING INDEX ix_tickets_{column}_created_key"), plan
