"""Playbooks, recurrence and the quality KPIs over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from domain.recurrence import RECURRENCE_WATCH_WORKFLOW
from store.models import PlaybookRow
from tests.api.conftest import Api, seed_users
from tests.dbutil import migrated_sessions
from ticketflow.settings import Settings
from workers.tickets import build_ticket_worker

SCRIPT = b"#!/bin/sh\n# MARK-CONTENT\nsystemctl restart cupsd\n"
TITLE = "MARK-TITLE restart the print spooler"


def definition(prefix: str) -> dict[str, Any]:
    """The service desk collects a fix (a script, a config, notes), then closes."""
    return {
        "key": "print-fault",
        "title": "Printing fault",
        "key_prefix": prefix,
        "department": "service-desk",
        "intake_form": {
            "type": "object",
            "properties": {"title": {"type": "string"}, "asset_id": {"type": "string"}},
        },
        # No model is trained here: triage answers with an error and the dispatcher decides.
        "triage": {
            "threshold": 0.7,
            "dispatcher_group": "service-desk",
            "routed_stages": ["collect"],
        },
        "stages": [
            {
                "key": "collect",
                "title": "Collect",
                "group": "service-desk",
                "deliverables": [
                    {"key": "script", "kind": "code", "language": "sh", "required": False},
                    {"key": "settings", "kind": "config", "required": False},
                    {"key": "notes", "kind": "document", "required": False},
                ],
            },
            {"key": "close", "title": "Close", "group": "service-desk", "depends_on": ["collect"]},
        ],
        "confirmation": {"timeout_hours": 24},
    }


@pytest.fixture
async def api(
    dev_env: WorkflowEnvironment, database_url: str, tmp_path: Path
) -> AsyncIterator[Api]:
    """The app with its artifact store in this test's directory, and a worker."""
    queue = f"play-{uuid.uuid4().hex[:8]}"
    settings = Settings(
        database_url=database_url, task_queue=queue, max_body_bytes=64_000, data_dir=tmp_path
    )
    async with migrated_sessions(database_url) as sessions:
        tokens = await seed_users(sessions)
        app = create_app(settings, temporal=dev_env.client, sessions=sessions)
        async with (
            build_ticket_worker(
                client=dev_env.client,
                task_queue=queue,
                sessions=sessions,
                recurrence_watches=True,
            ),
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://ticketflow.test"
            ) as http,
        ):
            yield Api(
                http=http,
                env=dev_env,
                sessions=sessions,
                prefix="P" + uuid.uuid4().hex[:8].upper(),
                tokens=tokens,
                task_queue=queue,
                data_dir=tmp_path,
            )


async def file(api: Api, user: str, intake: dict[str, Any]) -> str:
    filed = await api.http.post(
        "/tickets",
        json={"definition": "print-fault", "data": intake, "allow_duplicate": True},
        headers=api.auth(user),
    )
    assert filed.status_code == 201, filed.text
    key: str = filed.json()["key"]
    return key


async def ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code in (200, 201), response.text
    body: dict[str, Any] = response.json()
    return body


async def work(api: Api, key: str, stage: str, uploads: dict[str, bytes] | None = None) -> None:
    """Dana claims the stage, uploads its deliverables and completes it."""
    await ok(await api.http.post(f"/tickets/{key}/tasks/{stage}/claim", headers=api.auth("dana")))
    for name, content in (uploads or {}).items():
        await ok(
            await api.http.post(
                f"/tickets/{key}/deliverables/{stage}/{name}",
                files={"file": (f"{name}.txt", content, "text/plain")},
                headers=api.auth("dana"),
            )
        )
    await ok(
        await api.http.post(
            f"/tickets/{key}/tasks/{stage}/complete", json={"data": {}}, headers=api.auth("dana")
        )
    )


def promotion(key: str, **changes: Any) -> dict[str, Any]:
    return {
        "ticket": key,
        "stage": "collect",
        "deliverable": "script",
        "version": 1,
        "title": TITLE,
        **changes,
    }


async def test_a_resolved_tickets_script_becomes_its_categorys_playbook(api: Api) -> None:
    await ok(
        await api.http.post("/definitions", json=definition(api.prefix), headers=api.auth("owner"))
    )
    key = await file(api, "rita", {"title": "Printer queue stuck", "asset_id": "PR-1"})
    await ok(await api.http.post(f"/tickets/{key}/tasks/collect/claim", headers=api.auth("dana")))
    for name, content in (("script", SCRIPT), ("notes", b"what we saw\n")):
        await ok(
            await api.http.post(
                f"/tickets/{key}/deliverables/collect/{name}",
                files={"file": (f"{name}.txt", content, "text/plain")},
                headers=api.auth("dana"),
            )
        )
    # Not yet resolved: not a playbook.
    early = await api.http.post("/playbooks", json=promotion(key), headers=api.auth("dana"))
    assert early.status_code == 409, early.text
    assert early.json()["errors"][0]["pointer"] == "/ticket"
    await ok(
        await api.http.post(
            f"/tickets/{key}/tasks/collect/complete", json={"data": {}}, headers=api.auth("dana")
        )
    )
    await work(api, key, "close")

    bad = await api.http.post(
        "/playbooks",
        json={
            "ticket": key,
            "stage": "Collect!",
            "deliverable": "script",
            "version": 0,
            "title": " ",
        },
        headers=api.auth("dana"),
    )
    assert bad.status_code == 422
    assert sorted(e["pointer"] for e in bad.json()["errors"]) == ["/stage", "/title", "/version"]
    refusals = [
        ("rita", promotion(key), 403),  # a requester promotes nothing
        ("otto", promotion(key), 404),  # another department's agent does not see the ticket
        ("dana", promotion("NOPE-1"), 404),
        ("dana", promotion(key, stage="nope"), 404),
        ("dana", promotion(key, deliverable="nope"), 404),
        ("dana", promotion(key, version=9), 404),
        ("dana", promotion(key, deliverable="notes"), 409),  # a document is not a playbook
    ]
    for user, body, status in refusals:
        response = await api.http.post("/playbooks", json=body, headers=api.auth(user))
        assert (user, body, response.status_code) == (user, body, status), response.text
        assert response.headers["content-type"].startswith("application/problem+json")
    async with api.sessions() as session:
        assert list(await session.scalars(select(PlaybookRow))) == []  # nothing left behind

    made = await api.http.post("/playbooks", json=promotion(key), headers=api.auth("dana"))
    assert made.status_code == 201, made.text
    playbook = made.json()
    assert made.headers["location"] == f"/playbooks/{playbook['id']}"
    assert playbook["category"] == "print-fault"
    assert playbook["kind"] == "code"
    assert playbook["title"] == TITLE.strip()
    again = await api.http.post("/playbooks", json=promotion(key), headers=api.auth("dana"))
    assert again.status_code == 409

    one = await ok(await api.http.get(f"/playbooks/{playbook['id']}", headers=api.auth("dana")))
    assert one["content"] == SCRIPT.decode()
    assert (one["language"], one["ticket_key"], one["version"]) == ("sh", key, 1)
    listed = await ok(
        await api.http.get(
            "/playbooks", params={"category": "print-fault"}, headers=api.auth("dana")
        )
    )
    assert [p["id"] for p in listed["items"]] == [playbook["id"]]
    assert (await api.http.get("/playbooks/999999", headers=api.auth("dana"))).status_code == 404
    assert (await api.http.get("/playbooks", headers=api.auth("rita"))).status_code == 403

    # Governed like the deliverable: whoever may not read it on its ticket sees that a
    # playbook exists, for which category and of which kind, and nothing of what it says.
    for user in ("otto", "audrey"):
        for path in (f"/playbooks/{playbook['id']}", "/playbooks"):
            shown = await api.http.get(path, headers=api.auth(user))
            assert shown.status_code == 200, shown.text
            if user == "otto":
                assert "MARK-" not in shown.text
    hidden = await ok(await api.http.get(f"/playbooks/{playbook['id']}", headers=api.auth("otto")))
    assert set(hidden) == {"id", "category", "kind", "created_at"}

    # A new ticket of the category lists it in its detail and its triage answer.
    later = await file(api, "sam", {"title": "Printer queue stuck again", "asset_id": "PR-9"})
    detail = await ok(await api.http.get(f"/tickets/{later}", headers=api.auth("dana")))
    assert [(p["id"], p["title"]) for p in detail["playbooks"]] == [(playbook["id"], TITLE)]
    triage = await api.http.get(f"/tickets/{later}/triage", headers=api.auth("dana"))
    for _ in range(200):  # the triage activity runs right after creation
        if triage.status_code == 200:
            break
        await asyncio.sleep(0.05)
        triage = await api.http.get(f"/tickets/{later}/triage", headers=api.auth("dana"))
    assert triage.status_code == 200, triage.text
    assert [p["title"] for p in triage.json()["playbooks"]] == [TITLE]
    # Sam, who filed it, may not read the script on Rita's ticket: nothing of it shows.
    mine = await api.http.get(f"/tickets/{later}", headers=api.auth("sam"))
    assert mine.status_code == 200
    assert "MARK-" not in mine.text


async def test_a_recurrence_filed_over_http_links_both_tickets(api: Api) -> None:
    await ok(
        await api.http.post("/definitions", json=definition(api.prefix), headers=api.auth("owner"))
    )
    first = await file(api, "rita", {"title": "Printer jams", "asset_id": "PR-1"})
    await work(api, first, "collect")
    await work(api, first, "close")
    await ok(await api.http.post(f"/tickets/{first}/confirm", headers=api.auth("rita")))
    # The close's own projection records the watch: it is there when the confirm answers.
    timeline = await ok_list(api, f"/tickets/{first}/events", "dana")
    assert [e["type"] for e in timeline][-2:] == ["closed", "recurrence_watch_started"]

    second = await file(api, "sam", {"title": "the printer is jamming", "asset_id": "pr-1"})
    events = await ok_list(api, f"/tickets/{second}/events", "dana")
    assert [e["type"] for e in events][:2] == ["created", "recurrence_of"]
    assert events[1]["data"]["ticket"] == first
    # So does the new ticket's creation: the closed one says it recurred once the filing answers.
    timeline = await ok_list(api, f"/tickets/{first}/events", "dana")
    assert [e["type"] for e in timeline][-2:] == ["recurrence_watch_started", "recurred"]
    assert timeline[-1]["data"]["by"] == second
    # No watch workflow ran for either ticket.
    query = f'WorkflowType="{RECURRENCE_WATCH_WORKFLOW}"'
    assert [w.id async for w in api.env.client.list_workflows(query)] == []
    # Sam is not told which ticket his repeats, nor is Rita told someone else reported it.
    assert "recurrence_of" not in [
        e["type"] for e in await ok_list(api, f"/tickets/{second}/events", "sam")
    ]
    assert "recurred" not in [
        e["type"] for e in await ok_list(api, f"/tickets/{first}/events", "rita")
    ]

    kpis = await ok(await api.http.get("/kpis", headers=api.auth("audrey")))
    [category] = kpis["quality"]["by_category"]
    assert category["category"] == "print-fault"
    assert (category["tickets"], category["resolved"], category["reopened"]) == (2, 1, 0)
    assert category["watch_over"] == 0  # its 30 days are not over: no outcome to count yet
    assert (await api.http.get("/kpis", headers=api.auth("rita"))).status_code == 403


async def ok_list(api: Api, path: str, user: str) -> list[dict[str, Any]]:
    response = await api.http.get(path, headers=api.auth(user))
    assert response.status_code == 200, response.text
    body: list[dict[str, Any]] = response.json()
    return body
