"""Ticket exports: streamed page by page for a period, redacted, CSV formulas neutralised."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from starlette.types import ASGIApp, Message

from api.app import create_app
from api.csv_cells import FORMULA_STARTS
from api.routes.exports import PAGE
from store import tickets as ticket_store
from store.models import TicketRow
from tests.api.conftest import Api
from tests.api.helpers import publish_incident
from ticketflow.settings import Settings

TICKETS = 2_150  # eleven pages: the bound below holds page by page, whatever the count
BASE = datetime(2026, 3, 1, tzinfo=UTC)
FORM = {
    "type": "object",
    "required": ["title"],
    "properties": {
        "title": {"type": "string"},
        "salary": {"type": "integer", "x-sensitivity": "restricted"},
    },
}
SALARY = 987_654_321


@pytest.fixture
async def seeded(api: Api) -> Api:
    """TICKETS projected incidents a minute apart from BASE, rita's and sam's in turn."""
    published = await publish_incident(api, intake_form=FORM)
    rows = [
        TicketRow(
            key=f"{api.prefix}-{i:06d}",
            definition_key="incident",
            definition_version=published["version"],
            department="service-desk",
            title=f'=HYPERLINK("http://evil","{i}")' if i % 100 == 0 else f"printer {i}",
            status="open",
            requester="rita" if i % 2 else "sam",
            intake={"title": f"printer {i}", "salary": SALARY},
            created_at=BASE + timedelta(minutes=i),
            updated_at=BASE + timedelta(minutes=i),
            resolved_at=None,
            closed_at=None,
            last_seq=1,
        )
        for i in range(TICKETS)
    ]
    async with api.sessions() as session, session.begin():
        session.add_all(rows)
    return api


@dataclass
class Stream:
    """What the app sent, and how many body chunks had gone out at each page's query."""

    status: int = 0
    chunks: list[bytes] = field(default_factory=list)
    pages: list[tuple[int, int]] = field(default_factory=list)  # (rows fetched, chunks sent)

    @property
    def body(self) -> bytes:
        return b"".join(self.chunks)


@pytest.fixture
async def app(api: Api) -> AsyncIterator[ASGIApp]:
    """A second app on the test's database, called over raw ASGI to watch each chunk leave."""
    application = create_app(Settings(), temporal=api.env.client, sessions=api.sessions)
    async with application.router.lifespan_context(application):
        yield application


async def _stream(
    app: ASGIApp, api: Api, user: str, params: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> Stream:
    stream = Stream()
    real = ticket_store.list_tickets

    async def counted(**kwargs: Any) -> tuple[list[TicketRow], str | None]:
        rows, cursor = await real(**kwargs)
        stream.pages.append((len(rows), len(stream.chunks)))
        return rows, cursor

    monkeypatch.setattr(ticket_store, "list_tickets", counted)
    token = api.tokens[user]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/tickets/export",
        "raw_path": b"/tickets/export",
        "root_path": "",
        "query_string": urlencode(params).encode(),
        "headers": [(b"host", b"ticketflow.test"), (b"authorization", f"Bearer {token}".encode())],
        "client": ("127.0.0.1", 50000),
        "server": ("ticketflow.test", 80),
    }
    requested = False
    never = asyncio.Event()

    async def receive() -> Message:
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await never.wait()  # the client stays connected until the response ends
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            stream.status = message["status"]
        elif message["type"] == "http.response.body" and message.get("body"):
            stream.chunks.append(message["body"])

    await app(scope, receive, send)
    monkeypatch.undo()
    return stream


def _assert_streamed_page_by_page(stream: Stream) -> None:
    """No query fetched more than a page, and each page left before the next was read."""
    assert len(stream.pages) >= TICKETS // PAGE
    assert max(rows for rows, _ in stream.pages) <= PAGE
    for index, (_rows, sent) in enumerate(stream.pages):
        assert sent >= index  # the pages before this query had been sent already


async def test_json_lines_stream_every_ticket_a_page_at_a_time(
    seeded: Api, app: ASGIApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    stream = await _stream(app, seeded, "root", {"format": "jsonl"}, monkeypatch)
    assert stream.status == 200
    _assert_streamed_page_by_page(stream)
    lines = [json.loads(line) for line in stream.body.decode().splitlines()]
    assert [t["key"] for t in lines] == [
        f"{seeded.prefix}-{i:06d}" for i in reversed(range(TICKETS))
    ]
    assert lines[0]["intake"] == {"title": f"printer {TICKETS - 1}", "salary": SALARY}


async def test_csv_streams_with_formulas_neutralised(
    seeded: Api, app: ASGIApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    stream = await _stream(app, seeded, "root", {"format": "csv"}, monkeypatch)
    assert stream.status == 200
    # Two passes (columns, then rows), each page by page.
    first, second = stream.pages[: len(stream.pages) // 2], stream.pages[len(stream.pages) // 2 :]
    assert max(rows for rows, _ in stream.pages) <= PAGE
    assert all(sent == 0 for _, sent in first)
    for index, (_rows, sent) in enumerate(second):
        assert sent >= index + 1  # the header, then each page before this query
    rows = list(csv.DictReader(io.StringIO(stream.body.decode())))
    assert len(rows) == TICKETS
    assert {"key", "title", "intake.title", "intake.salary"} <= set(rows[0])
    hostile = [r for r in rows if r["title"].startswith("'=")]
    assert len(hostile) == len(range(0, TICKETS, 100))
    assert not [c for r in rows for c in r.values() if c.startswith(FORMULA_STARTS)]


async def test_a_period_with_utc_offsets_selects_created_in_from_to(api: Api, seeded: Api) -> None:
    # 10:00 and 12:00 at +02:00 are 08:00 and 10:00 UTC: minutes 480 to 599 after BASE.
    params = {
        "format": "jsonl",
        "from": "2026-03-01T10:00:00+02:00",
        "to": "2026-03-01T12:00:00+02:00",
    }
    answer = await seeded.http.get("/tickets/export", params=params, headers=seeded.auth("root"))
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/x-ndjson"
    keys = [json.loads(line)["key"] for line in answer.text.splitlines()]
    assert keys == [f"{seeded.prefix}-{i:06d}" for i in reversed(range(480, 600))]
    limited = await seeded.http.get(
        "/tickets/export", params={**params, "limit": 7}, headers=seeded.auth("root")
    )
    assert len(limited.text.splitlines()) == 7


async def test_a_time_without_offset_is_a_problem(api: Api) -> None:
    answer = await api.http.get(
        "/tickets/export", params={"from": "2026-03-01T10:00:00"}, headers=api.auth("root")
    )
    assert answer.status_code == 422
    assert [p["pointer"] for p in answer.json()["errors"]] == ["query:/from"]


@pytest.mark.parametrize("format_", ["json", "jsonl", "csv"])
async def test_exports_are_redacted_for_each_caller(seeded: Api, format_: str) -> None:
    params = {"format": format_, "to": (BASE + timedelta(minutes=40)).isoformat()}
    for user, salary_shown, tickets in (
        ("root", True, 40),
        ("audrey", False, 40),
        ("rita", False, 20),
    ):
        answer = await seeded.http.get("/tickets/export", params=params, headers=seeded.auth(user))
        assert answer.status_code == 200, answer.text
        assert (str(SALARY) in answer.text) is salary_shown, user
        if format_ == "json":
            documents = answer.json()
        elif format_ == "jsonl":
            documents = [json.loads(line) for line in answer.text.splitlines()]
        else:
            documents = list(csv.DictReader(io.StringIO(answer.text)))
        assert len(documents) == tickets, user
        if user == "rita":
            assert {d["requester"] for d in documents} == {"rita"}
