"""The evidence trace over HTTP: a ticket handed between two departments with real uploads and a
reopen, traced in full for an auditor and without what she may not read for the requester."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from tests.api.access_helpers import grant
from tests.api.conftest import Api, seed_users
from tests.api.helpers import PROBLEM
from tests.dbutil import migrated_sessions
from tests.domain.test_deliverables import pcap_bytes
from ticketflow.settings import Settings
from workers.tickets import build_ticket_worker

CAPTURE = pcap_bytes(4)
NOTES = b"the uplink flaps every 40 s\n"


def definition(prefix: str) -> dict[str, Any]:
    """The desk collects a confidential capture and internal notes; ops fixes."""
    return {
        "key": "trace-flow",
        "title": "Uplink fault",
        "key_prefix": prefix,
        "department": "service-desk",
        "intake_form": {"type": "object", "properties": {"title": {"type": "string"}}},
        "stages": [
            {
                "key": "collect",
                "title": "Collect",
                "group": "service-desk",
                "deliverables": [
                    {"key": "capture", "kind": "file", "sensitivity": "confidential"},
                    {"key": "notes", "kind": "document"},
                ],
            },
            {"key": "fix", "title": "Fix", "group": "ops", "depends_on": ["collect"]},
        ],
    }


@pytest.fixture
async def api(
    dev_env: WorkflowEnvironment, database_url: str, tmp_path: Path
) -> AsyncIterator[Api]:
    """The app with its artifact store in this test's directory, and a worker."""
    queue = f"trace-{uuid.uuid4().hex[:8]}"
    settings = Settings(
        database_url=database_url, task_queue=queue, max_body_bytes=64_000, data_dir=tmp_path
    )
    async with migrated_sessions(database_url) as sessions:
        tokens = await seed_users(sessions)
        app = create_app(settings, temporal=dev_env.client, sessions=sessions)
        async with (
            build_ticket_worker(client=dev_env.client, task_queue=queue, sessions=sessions),
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://ticketflow.test"
            ) as http,
        ):
            yield Api(
                http=http,
                env=dev_env,
                sessions=sessions,
                prefix="R" + uuid.uuid4().hex[:8].upper(),
                tokens=tokens,
                task_queue=queue,
                data_dir=tmp_path,
            )


async def _ok(api: Api, user: str, path: str, **kwargs: Any) -> httpx.Response:
    response = await api.http.post(path, headers=api.auth(user), **kwargs)
    assert response.status_code == 200, (path, response.text)
    return response


async def lived(api: Api) -> str:
    """A ticket worked by the desk and ops, reopened once for the fix, then confirmed."""
    published = await api.http.post(
        "/definitions", json=definition(api.prefix), headers=api.auth("owner")
    )
    assert published.status_code == 201, published.text
    filed = await api.http.post(
        "/tickets",
        json={"definition": "trace-flow", "data": {"title": "uplink drops"}},
        headers=api.auth("rita"),
    )
    assert filed.status_code == 201, filed.text
    key: str = filed.json()["key"]
    base = f"/tickets/{key}"
    await _ok(api, "dana", f"{base}/tasks/collect/claim")
    for name, content in (("capture", CAPTURE), ("notes", NOTES)):
        files = {"file": (f"{name}.bin", content, "application/octet-stream")}
        await _ok(api, "dana", f"{base}/deliverables/collect/{name}", files=files)
    await _ok(api, "dana", f"{base}/tasks/collect/complete", json={"data": {}})
    await _ok(api, "otto", f"{base}/tasks/fix/claim")
    await _ok(api, "otto", f"{base}/tasks/fix/complete", json={"data": {}})
    await _ok(api, "rita", f"{base}/reopen", json={"reason": "still drops", "stages": ["fix"]})
    await _ok(api, "otto", f"{base}/tasks/fix/claim")
    await _ok(api, "otto", f"{base}/tasks/fix/complete", json={"data": {}})
    await _ok(api, "rita", f"{base}/confirm")
    return key


async def test_the_trace_is_full_for_an_auditor_and_redacted_for_the_requester(api: Api) -> None:
    key = await lived(api)
    full = await api.http.get(f"/tickets/{key}/trace", headers=api.auth("audrey"))
    assert full.status_code == 200, full.text
    trace = full.json()
    time, organisation, data = trace["time"], trace["organisation"], trace["data"]
    assert [r["outcome"] for r in time["rounds"]] == ["reopened", "closed"]
    assert [(s["stage"], s["round"], s["group"], s["status"]) for s in time["stages"]] == [
        ("collect", 1, "service-desk", "done"),
        ("fix", 1, "ops", "done"),
        ("fix", 2, "ops", "done"),
    ]
    assert all(s["seconds"] >= 0 for s in time["stages"])
    # The desk handed over to ops once; the reopen, not the desk, sent the fix back.
    assert [
        (h["from_stage"], h["from_group"], h["to_stage"], h["to_group"], h["to_round"])
        for h in organisation["handovers"]
    ] == [("collect", "service-desk", "fix", "ops", 1)]
    people = {a["user"]: (a["department"], a["role"]) for a in organisation["actors"]}
    assert people["rita"] == ("sales", "requester")
    assert people["dana"] == ("service-desk", "agent")
    assert people["otto"] == ("ops", "agent")
    versions = {d["deliverable"]: d for d in data["deliverables"]}
    assert versions["capture"]["sha256"] == hashlib.sha256(CAPTURE).hexdigest()
    assert versions["capture"]["size"] == len(CAPTURE)
    assert versions["capture"]["media_type"] == "application/vnd.tcpdump.pcap"
    assert versions["notes"]["sha256"] == hashlib.sha256(NOTES).hexdigest()
    assert (versions["capture"]["author"], versions["notes"]["media_type"]) == (
        "dana",
        "text/plain",
    )
    assert data["rating"] == []
    events = await api.http.get(f"/tickets/{key}/events", headers=api.auth("audrey"))
    assert [t["seq"] for t in time["transitions"]] == [e["seq"] for e in events.json()]

    mine = await api.http.get(f"/tickets/{key}/trace", headers=api.auth("rita"))
    assert mine.status_code == 200, mine.text
    # The confidential capture is gone by value, wherever it would sit; the notes stay.
    assert hashlib.sha256(CAPTURE).hexdigest() not in mine.text
    assert "capture.bin" not in mine.text
    shown = mine.json()
    assert [d["deliverable"] for d in shown["data"]["deliverables"]] == ["notes"]
    assert [(s["stage"], s["round"]) for s in shown["time"]["stages"]] == [
        ("collect", 1),
        ("fix", 1),
        ("fix", 2),
    ]


async def test_who_may_not_read_the_trace_is_told_by_a_problem(api: Api) -> None:
    key = await lived(api)
    for headers, expected in (
        (api.auth("sam"), 404),  # another requester: not her ticket
        ({}, 401),
        ({"Authorization": "Bearer nonsense"}, 401),
    ):
        refused = await api.http.get(f"/tickets/{key}/trace", headers=headers)
        assert refused.status_code == expected, refused.text
        assert refused.headers["content-type"].startswith(PROBLEM)
        assert key not in json.dumps(refused.json().get("errors", []))
    unknown = await api.http.get(f"/tickets/{api.prefix}-999999/trace", headers=api.auth("root"))
    assert unknown.status_code == 404
    await grant(
        api,
        subject="role:requester",
        domain="*",
        object="ticket.events",
        action="read",
        clearance="public",
        effect="deny",
    )
    refused = await api.http.get(f"/tickets/{key}/trace", headers=api.auth("rita"))
    assert refused.status_code == 403, refused.text
    assert refused.headers["content-type"].startswith(PROBLEM)
