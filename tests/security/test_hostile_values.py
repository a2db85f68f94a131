"""Values the stores cannot hold are a 422 with their pointer, and leave nothing behind."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from api.app import create_app
from api.body_guard import body_problems
from domain.json_values import MAX_DEPTH, MAX_PROBLEMS, TOO_DEEP, value_problems
from domain.problems import Rejected
from services.ticket_creation import file_ticket, load_definition
from store.models import IdempotencyRow, KeySequenceRow, TicketRow
from tests.api.conftest import Api
from tests.api.helpers import PROBLEM, publish_incident
from tests.builders import INCIDENT, REQUESTER
from tests.dbutil import sqlite_url
from ticketflow.settings import Settings


def _nested(depth: int, leaf: str = "0") -> str:
    return "[" * depth + leaf + "]" * depth


DEEP = "/data/x" + "/0" * 62  # the 65th level: root, data, then x's own 63
# The incident's intake with a field that takes any value, and a free-text log.
OPEN_INTAKE = {
    **INCIDENT["intake_form"],
    "properties": {**INCIDENT["intake_form"]["properties"], "x": {}, "log": {"type": "string"}},
}
# (name, JSON text of the intake's "x" field, pointer of the problem, words in the detail)
HOSTILE: list[tuple[str, str, str, str]] = [
    ("lone surrogate", r'"VPN \ud800 down"', "/data/x", "surrogate"),
    ("lone low surrogate", r'"\udc00"', "/data/x", "surrogate"),
    ("surrogate in a key", r'{"\ud83d": 1}', "/data/x/\\ud83d", "surrogate"),
    ("900 levels deep", _nested(900), DEEP, "deeper than"),
    ("one level too deep", _nested(63), DEEP, "deeper than"),
    ("20,000 levels deep", _nested(20_000), "", "deeper than"),
    ("2^63", "9223372036854775808", "/data/x", "2^63"),
    ("below -2^63", "-9223372036854775809", "/data/x", "2^63"),
    ("5000 digits", "9" * 5000, "/data/x", "2^63"),
    ("deep with a NUL", _nested(900, r'"\u0000"'), DEEP, "deeper than"),
    ("NaN", "NaN", "/data/x", "NaN"),
    ("1e400", "1e400", "/data/x", "Infinity"),
]


@pytest.mark.parametrize(
    ("text", "at", "words"), [h[1:] for h in HOSTILE], ids=[h[0] for h in HOSTILE]
)
def test_the_guard_points_at_each_hostile_value(text: str, at: str, words: str) -> None:
    body = ('{"definition": "incident", "data": {"title": "VPN down", "x": ' + text + "}}").encode()
    (problem,) = body_problems(body)
    assert problem.pointer == at
    assert words in problem.detail


def test_edges_of_the_range_and_depth_pass() -> None:
    assert body_problems(b"[9223372036854775807, -9223372036854775808, 1e308, true]") == []
    assert body_problems(_nested(MAX_DEPTH).encode()) == []
    assert body_problems(_nested(MAX_DEPTH + 1).encode())[0].detail.startswith("nested deeper")


def test_keys_are_checked_and_shown_encodable() -> None:
    surrogate, nul = body_problems(rb'{"a": {"b\ud800": 1, "ok\u0000": 2}}')
    assert (surrogate.pointer, nul.pointer) == ("/a/b\\ud800", "/a/ok\x00")
    surrogate.model_dump_json().encode()  # the pointer itself can be sent back


def test_not_json_passes_on_to_its_view_unless_it_holds_a_raw_nul() -> None:
    assert body_problems(b"key: [1, 2") == []
    assert body_problems(b"{not json") == []
    assert body_problems(b"{not \x00 json")[0].detail.startswith("NUL")
    assert body_problems(b'key: "\\ud800"', "application/yaml") == []


# FastAPI reads any `application/*+json` body as JSON, whatever comes before the suffix.
JSON_TYPES = [
    "application/json",
    "application/json; charset=utf-8",
    "application/problem+json",
    "application/yaml+json",
    "application/x-www-form-urlencoded+json",
    "text/plain",
]


@pytest.mark.parametrize("content_type", JSON_TYPES)
async def test_a_hundred_thousand_levels_are_a_422_whatever_the_json_type(
    tmp_path: Path, content_type: str
) -> None:
    # The guard answers before any view: neither Temporal nor the database is reached.
    app = create_app(Settings(database_url=sqlite_url(tmp_path)))
    body = _nested(100_000).encode()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://ticketflow.test"
    ) as http:
        answer = await http.post("/tickets", content=body, headers={"Content-Type": content_type})
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == PROBLEM
    assert answer.json()["errors"] == [{"pointer": "", "detail": TOO_DEEP}]


def test_a_flood_of_problems_is_cut_short() -> None:
    assert len(value_problems(["\x00"] * 10_000)) == MAX_PROBLEMS


async def _left(api: Api) -> tuple[int, int, int, int]:
    """Tickets, key counter rows, the keys they handed out, and idempotency records."""
    async with api.sessions() as session:
        return (
            await session.scalar(select(func.count()).select_from(TicketRow)) or 0,
            await session.scalar(select(func.count()).select_from(KeySequenceRow)) or 0,
            await session.scalar(select(func.coalesce(func.sum(KeySequenceRow.last_value), 0)))
            or 0,
            await session.scalar(select(func.count()).select_from(IdempotencyRow)) or 0,
        )


async def test_a_refused_intake_leaves_nothing_and_its_corrected_retry_files(api: Api) -> None:
    await publish_incident(api, intake_form=OPEN_INTAKE)
    headers = {**api.auth("rita"), "Content-Type": "application/json"}
    for name, text, at, _words in HOSTILE:
        key = f"hostile-{name}"
        before = await _left(api)
        body = '{"definition": "incident", "data": {"title": "VPN down", "x": ' + text + "}}"
        refused = await api.http.post(
            "/tickets", content=body.encode(), headers={**headers, "Idempotency-Key": key}
        )
        assert (refused.status_code, refused.headers["content-type"]) == (422, PROBLEM), name
        assert [e["pointer"] for e in refused.json()["errors"]] == [at], name
        assert await _left(api) == before, name
        corrected = {"definition": "incident", "data": {"title": "VPN down", "x": 1}}
        filed = await api.http.post(
            "/tickets", json=corrected, headers={**headers, "Idempotency-Key": key}
        )
        assert filed.status_code == 201, (name, filed.text)


@pytest.mark.parametrize(
    ("path", "where"),
    [
        ("/definitions/incident/versions/9223372036854775808", "path:/version"),
        ("/forms/incident/versions/9223372036854775808/layout", "path:/version"),
        ("/forms/incident/versions/1/diff/99999999999999999999", "path:/b"),
        ("/calendars/cn/versions/9223372036854775808", "path:/version"),
        ("/tickets/INC-000001/events?after=9223372036854775808", "query:/after"),
    ],
)
async def test_integers_beyond_64_bits_in_urls_are_422(api: Api, path: str, where: str) -> None:
    response = await api.http.get(path, headers=api.auth("dana"))
    assert (response.status_code, response.headers["content-type"]) == (422, PROBLEM)
    assert [e["pointer"] for e in response.json()["errors"]] == [where]


async def test_a_version_beyond_64_bits_in_a_body_is_422(api: Api) -> None:
    await publish_incident(api)
    body = b'{"definition": "incident", "version": 9223372036854775808, "data": {"title": "VPN"}}'
    response = await api.http.post(
        "/tickets", content=body, headers={**api.auth("rita"), "Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert [e["pointer"] for e in response.json()["errors"]] == ["/version"]


@pytest.mark.parametrize(
    ("text", "words"),
    [('key: "a\\ud800"\n', "surrogate"), ("key: " + _nested(2000) + "\n", "deeper than")],
    ids=["surrogate", "deep"],
)
async def test_yaml_definitions_are_checked_alike(api: Api, text: str, words: str) -> None:
    response = await api.http.post(
        "/definitions",
        content=text.encode(),
        headers={**api.auth("owner"), "Content-Type": "application/yaml"},
    )
    assert (response.status_code, response.headers["content-type"]) == (422, PROBLEM)
    assert words in response.json()["errors"][0]["detail"]


async def _sees_none(rows: list[TicketRow]) -> list[bool]:
    # The incident process has no duplicate check, so this is never asked.
    return [False] * len(rows)


async def test_a_start_temporal_refuses_gives_its_key_and_record_back(api: Api) -> None:
    # Temporal refuses a workflow input over its blob size limit (2 MB); no retry can help.
    await publish_incident(api, intake_form=OPEN_INTAKE)
    async with api.sessions() as session:
        definition = await load_definition(session=session, key="incident", version=None)
    before = await _left(api)

    async def file(data: dict[str, Any]) -> str:
        async with api.sessions() as session:
            created = await file_ticket(
                session=session,
                client=api.env.client,
                task_queue=api.task_queue,
                definition=definition,
                data=data,
                requester=REQUESTER,
                idempotency_key="too-big",
                may_see=_sees_none,
            )
        return created.key

    with pytest.raises(Rejected) as refused:
        await file({"title": "VPN down", "log": "x" * 3_000_000})
    assert [p.pointer for p in refused.value.problems] == ["/data"]
    assert await _left(api) == before
    assert await file({"title": "VPN down", "log": "x"}) == f"{api.prefix}-000001"
