"""Ticket lists: filters, keyset pagination over every row once, and cursor checking."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.ticket import TaskStatus, TicketSnapshot, TicketStatus
from store.models import TicketRow
from store.projection import apply_projection
from store.tickets import (
    BadCursor,
    TicketFilter,
    decode_cursor,
    encode_cursor,
    list_tasks,
    list_tickets,
)
from tests.store.snapshots import T0, snapshot, task

Sessions = async_sessionmaker[AsyncSession]


async def _store(sessions: Sessions, *tickets: TicketSnapshot) -> None:
    async with sessions() as session, session.begin():
        for ticket in tickets:
            await apply_projection(session=session, ticket=ticket, events=[])


async def _keys(sessions: Sessions, filters: TicketFilter) -> list[str]:
    async with sessions() as session:
        rows, cursor = await list_tickets(session=session, filters=filters, limit=100, cursor=None)
    assert cursor is None
    return [r.key for r in rows]


async def _all_pages(sessions: Sessions, filters: TicketFilter, limit: int) -> list[list[str]]:
    pages: list[list[str]] = []
    cursor: str | None = None
    async with sessions() as session:
        while True:
            rows, cursor = await list_tickets(
                session=session, filters=filters, limit=limit, cursor=cursor
            )
            pages.append([r.key for r in rows])
            if cursor is None:
                return pages


@pytest.fixture
async def catalogue(session_factory: Sessions) -> Sessions:
    """Five tickets across definitions, departments, statuses and assignees, one minute apart."""

    def at(n: int) -> dict[str, Any]:
        return {"created_at": T0 + timedelta(minutes=n), "updated_at": T0 + timedelta(minutes=n)}

    await _store(
        session_factory,
        snapshot("IT-000001", **at(1)),
        snapshot(
            "IT-000002",
            status=TicketStatus.RESOLVED,
            **at(2),
            tasks=[task("IT-000002", status=TaskStatus.DONE, assignee="bob")],
        ),
        snapshot(
            "IT-000003",
            requester="dave",
            **at(3),
            tasks=[
                task("IT-000003", status=TaskStatus.CLAIMED, assignee="bob"),
                task("IT-000003", "visit", group="field", status=TaskStatus.PENDING),
            ],
        ),
        snapshot(
            "FAC-000001",
            definition_key="facility-repair",
            department="facilities",
            **at(4),
            tasks=[task("FAC-000001", group="facilities")],
        ),
        snapshot(
            "FAC-000002",
            definition_key="facility-repair",
            department="facilities",
            status=TicketStatus.CLOSED,
            **at(5),
            tasks=[task("FAC-000002", group="field", status=TaskStatus.DONE, assignee="erin")],
        ),
    )
    return session_factory


async def test_no_filter_lists_everything_newest_first(catalogue: Sessions) -> None:
    assert await _keys(catalogue, TicketFilter()) == [
        "FAC-000002",
        "FAC-000001",
        "IT-000003",
        "IT-000002",
        "IT-000001",
    ]


def _filter_id(filters: TicketFilter) -> str:
    return ",".join(f"{k}={v}" for k, v in vars(filters).items() if v is not None)


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (TicketFilter(status="open"), ["FAC-000001", "IT-000003", "IT-000001"]),
        (TicketFilter(status="closed"), ["FAC-000002"]),
        (TicketFilter(definition_key="facility-repair"), ["FAC-000002", "FAC-000001"]),
        (TicketFilter(definition_key="it-incident", status="resolved"), ["IT-000002"]),
        (TicketFilter(department="facilities"), ["FAC-000002", "FAC-000001"]),
        # A department also sees tickets where one of its tasks has opened; IT-000003's
        # field visit is still pending, so it is not field's yet.
        (TicketFilter(department="field"), ["FAC-000002"]),
        (TicketFilter(assignee="bob"), ["IT-000003", "IT-000002"]),
        (TicketFilter(assignee="bob", status="open"), ["IT-000003"]),
        (TicketFilter(assignee="nobody"), []),
        (TicketFilter(requester="dave"), ["IT-000003"]),
        (TicketFilter(department="it-ops", requester="alice"), ["IT-000002", "IT-000001"]),
        # Visibility: no department in scope leaves the caller's own tickets, or none.
        (TicketFilter(visible_departments=(), visible_requester="dave"), ["IT-000003"]),
        (TicketFilter(visible_departments=()), []),
        (TicketFilter(visible_departments=("field",)), ["FAC-000002"]),
    ],
    ids=lambda v: _filter_id(v) if isinstance(v, TicketFilter) else "",
)
async def test_filters(catalogue: Sessions, filters: TicketFilter, expected: list[str]) -> None:
    assert await _keys(catalogue, filters) == expected


async def test_pages_return_every_row_exactly_once(session_factory: Sessions) -> None:
    # Groups of three share a creation time, so the key must break ties across page edges.
    tickets = [
        snapshot(
            f"IT-{n:06d}",
            created_at=T0 + timedelta(seconds=n // 3),
            status=TicketStatus.OPEN if n % 2 else TicketStatus.CLOSED,
        )
        for n in range(1, 24)
    ]
    await _store(session_factory, *tickets)
    newest_first = [
        t.key for t in sorted(tickets, key=lambda t: (t.created_at, t.key), reverse=True)
    ]
    for limit in (1, 4, 5, 23, 50):
        pages = await _all_pages(session_factory, TicketFilter(), limit)
        assert [key for page in pages for key in page] == newest_first
        assert all(len(page) == limit for page in pages[:-1])
        assert 0 < len(pages[-1]) <= limit
    open_first = [k for k in newest_first if int(k[3:]) % 2]
    pages = await _all_pages(session_factory, TicketFilter(status="open"), 5)
    assert [key for page in pages for key in page] == open_first


async def test_last_full_page_has_no_next_cursor(catalogue: Sessions) -> None:
    async with catalogue() as session:
        rows, cursor = await list_tickets(
            session=session, filters=TicketFilter(), limit=5, cursor=None
        )
    assert (len(rows), cursor) == (5, None)


async def test_cursor_round_trips(catalogue: Sessions) -> None:
    async with catalogue() as session:
        row = await session.get(TicketRow, "IT-000002")
    assert row is not None
    assert decode_cursor(encode_cursor(row)) == (T0 + timedelta(minutes=2), "IT-000002")


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode()


@pytest.mark.parametrize(
    "cursor",
    [
        "not a cursor",
        "%%%%",
        _b64(b"\xff\xfe"),
        _b64(b"{not json"),
        _b64(json.dumps(["2025-03-01T09:00:00+00:00"]).encode()),
        _b64(json.dumps(["yesterday", "IT-000001"]).encode()),
        _b64(json.dumps([12, "IT-000001"]).encode()),
        _b64(json.dumps(42).encode()),
        _b64(b"[" * 10_000 + b"]" * 10_000),
    ],
    ids=["plain", "symbols", "binary", "json", "short", "date", "number", "scalar", "deep"],
)
async def test_bad_cursor_is_refused(catalogue: Sessions, cursor: str) -> None:
    async with catalogue() as session:
        with pytest.raises(BadCursor):
            await list_tickets(session=session, filters=TicketFilter(), limit=2, cursor=cursor)


async def test_task_queues(catalogue: Sessions) -> None:
    async with catalogue() as session:
        queue = await list_tasks(session=session, group="it-ops")
        assert [t.id for t in queue] == ["IT-000001:fix:1", "IT-000003:fix:1"]
        mine = await list_tasks(session=session, assignee="bob")
        assert [(t.id, t.status) for t in mine] == [("IT-000003:fix:1", "claimed")]
        done = await list_tasks(session=session, assignee="bob", statuses=("done",))
        assert [t.id for t in done] == ["IT-000002:fix:1"]
