"""Subscriptions over real HTTP: a real dev server, worker, database and webhook receiver.

Events arrive as signed CloudEvents, redacted for each subscriber, once per event id and in
order per ticket even when the receiver was down for a while; bad subscriptions are refused.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from temporalio.testing import WorkflowEnvironment

from activities.cloud_events import read_structured
from domain.webhook_signatures import verified
from store.models import DeliveryAttemptRow, OutboxRow
from store.users import add_user
from tests.api.conftest import Api, subscribing_api
from tests.api.helpers import PROBLEM, incident_document, work
from tests.api.webhook_receiver import Received, Receiver, receiving
from ticketflow.settings import Settings

# Deliveries arrive within seconds; this only bounds a test that would otherwise hang.
PATIENCE = 60.0


def _secret(seed: int) -> tuple[str, bytes]:
    key = bytes([seed]) * 32
    return "whsec_" + base64.b64encode(key).decode(), key


@pytest.fixture
async def hooked(
    dev_env: WorkflowEnvironment, database_url: str, tmp_path: Path, api_settings: dict[str, Any]
) -> AsyncIterator[tuple[Api, Receiver]]:
    """The app and a worker configured alike, with the receiver on the allowed hosts."""
    queue = f"subs-{uuid.uuid4().hex[:8]}"
    async with receiving() as receiver:
        settings = Settings(
            database_url=database_url,
            task_queue=queue,
            http_allowed_hosts=[receiver.allowed],
            **api_settings,
        )
        async with subscribing_api(dev_env, settings, tmp_path, "S") as api:
            yield api, receiver


async def _subscribe(api: Api, user: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await api.http.post("/subscriptions", json=body, headers=api.auth(user))
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    assert "secret" not in created
    return created


async def _eventually(probe: Callable[[], Awaitable[Any]], what: str) -> Any:
    deadline = time.monotonic() + PATIENCE
    while True:
        found = await probe()
        if found:
            return found
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.2)


def _deduplicated(received: list[Received]) -> list[dict[str, Any]]:
    """The events in arrival order, each id kept once (the receiver's deduplication)."""
    seen: set[str] = set()
    events = []
    for delivery in received:
        document = json.loads(delivery.body)
        if document["id"] not in seen:
            seen.add(document["id"])
            events.append(document)
    return events


async def _ticket_events(api: Api, key: str) -> list[tuple[int, str]]:
    async with api.sessions() as session:
        rows = await session.scalars(
            select(OutboxRow).where(OutboxRow.ticket_key == key).order_by(OutboxRow.seq)
        )
        return [(r.seq, r.type) for r in rows]


async def _file_and_work(api: Api) -> str:
    """A confidential root cause, a ticket worked through every stage; returns its key."""
    document = incident_document(key_prefix=api.prefix)
    diagnose = document["stages"][1]["form"]["properties"]["root_cause"]
    diagnose["x-sensitivity"] = "confidential"
    published = await api.http.post("/definitions", json=document, headers=api.auth("owner"))
    assert published.status_code == 201, published.text
    created = await api.http.post(
        "/tickets",
        json={"definition": "incident", "data": {"title": "VPN down"}},
        headers=api.auth("rita"),
    )
    assert created.status_code == 201, created.text
    key: str = created.json()["key"]
    for stage, user in (
        ("triage", "dana"),
        ("diagnose", "otto"),
        ("fix", "devi"),
        ("verify", "dana"),
    ):
        await work(api, key, stage, user)
    return key


async def test_events_arrive_signed_redacted_once_each_and_in_order_after_an_outage(
    hooked: tuple[Api, Receiver],
) -> None:
    api, receiver = hooked
    system_secret, system_key = _secret(1)
    admin_secret, admin_key = _secret(2)
    await _subscribe(api, "monitor", {"url": receiver.url("monitor"), "secret": system_secret})
    admin = await _subscribe(api, "root", {"url": receiver.url("root"), "secret": admin_secret})
    await _subscribe(
        api,
        "monitor",
        {
            "url": receiver.url("completions"),
            "secret": system_secret,
            "event_types": ["task_completed"],
            "filter": 'data.data.stage == "diagnose" || data.data.stage == "fix"',
        },
    )
    receiver.down.add("root")
    key = await _file_and_work(api)
    expected = await _ticket_events(api, key)
    assert {t for _, t in expected} >= {"created", "task_opened", "task_claimed", "task_completed"}

    async def failures() -> list[dict[str, Any]]:
        answer = await api.http.get(
            f"/subscriptions/{admin['id']}/deliveries", headers=api.auth("root")
        )
        return [a for a in answer.json() if a["outcome"] == "failed"]

    failed = await _eventually(failures, "failed attempts to the receiver while it is down")
    assert failed[0]["status_code"] == 503
    receiver.down.discard("root")

    def arrived(name: str) -> Callable[[], Awaitable[bool]]:
        async def probe() -> bool:
            ids = {json.loads(r.body)["id"] for r in receiver.accepted.get(name, [])}
            return len([i for i in ids if i.startswith(key)]) >= len(expected)

        return probe

    await _eventually(arrived("monitor"), "every event at the system's receiver")
    await _eventually(arrived("root"), "every event at the admin's receiver after the outage")
    now = int(datetime.now(UTC).timestamp())
    for name, secret_key in (("monitor", system_key), ("root", admin_key)):
        received = receiver.accepted[name]
        for delivery in received:
            assert verified(secret_key, delivery.headers, delivery.body, now)
            assert not verified(_secret(9)[1], delivery.headers, delivery.body, now)
            assert delivery.headers["content-type"] == "application/cloudevents+json"
            parsed = read_structured(delivery.body).get_attributes()
            assert parsed["type"].startswith("ticketflow.ticket.")
            assert parsed["id"] == delivery.headers["webhook-id"]
        events = [e for e in _deduplicated(received) if e["subject"] == key]
        # Exactly once after deduplication, every event of the ticket, in its order.
        assert [(e["data"]["seq"], e["data"]["type"]) for e in events] == expected
        for e in events:
            assert e["specversion"] == "1.0"
            assert e["type"] == "ticketflow.ticket." + e["data"]["type"]
            assert e["id"] == f"{key}-{e['data']['seq']}"
            assert {
                d.headers["webhook-id"] for d in received if json.loads(d.body)["id"] == e["id"]
            } == {e["id"]}

    def diagnosis(name: str) -> dict[str, Any]:
        [done] = [
            e
            for e in _deduplicated(receiver.accepted[name])
            if e["data"]["type"] == "task_completed" and e["data"]["data"]["stage"] == "diagnose"
        ]
        form: dict[str, Any] = done["data"]["data"]["form"]
        return form

    # Each subscriber reads as its own account: the system may not read the confidential field.
    assert diagnosis("root") == {"root_cause": "switch port flapping"}
    assert diagnosis("monitor") == {}
    # The filtered subscription got the two completions it asked for, and nothing else.
    await _eventually(
        lambda: asyncio.sleep(0, len(receiver.accepted.get("completions", [])) >= 2),
        "the filtered completions",
    )
    completions = _deduplicated(receiver.accepted["completions"])
    assert sorted(e["data"]["data"]["stage"] for e in completions) == ["diagnose", "fix"]
    # Every attempt names the ticket its event is of (usage is metered by its department).
    async with api.sessions() as session:
        attempts = (await session.execute(select(DeliveryAttemptRow))).scalars().all()
    assert attempts
    assert {(a.ticket_key, a.event_id.rsplit("-", 1)[0]) for a in attempts} == {(key, key)}


@pytest.mark.parametrize("api_settings", [{"subscription_retry_hours": 0.001}], indirect=True)
async def test_a_subscription_that_keeps_failing_is_paused_and_can_be_resumed(
    hooked: tuple[Api, Receiver],
) -> None:
    api, receiver = hooked
    receiver.down.add("flaky")
    created = await _subscribe(
        api, "monitor", {"url": receiver.url("flaky"), "secret": _secret(3)[0]}
    )
    await _file_and_work(api)

    async def paused() -> dict[str, Any] | None:
        answer = await api.http.get(f"/subscriptions/{created['id']}", headers=api.auth("monitor"))
        body: dict[str, Any] = answer.json()
        return body if body["status"] == "paused" else None

    found = await _eventually(paused, "the subscription to pause")
    assert "created" in found["paused_reason"] or "event" in found["paused_reason"]
    # Its owner is notified, through the notifications every account reads, and no one else.
    told = await api.http.get("/notifications", headers=api.auth("monitor"))
    assert told.status_code == 200, told.text
    [notice] = [n for n in told.json() if created["id"] in n["subject"]]
    assert notice["recipient"] == "user:monitor"
    assert "paused" in notice["subject"]
    assert notice["body"] == found["paused_reason"]
    for other in ("rita", "dana"):
        theirs = await api.http.get("/notifications", headers=api.auth(other))
        assert all(created["id"] not in n["subject"] for n in theirs.json())
    receiver.down.discard("flaky")
    resumed = await api.http.post(
        f"/subscriptions/{created['id']}/resume", headers=api.auth("monitor")
    )
    assert resumed.status_code == 200, resumed.text
    assert resumed.json()["status"] == "active"
    await _eventually(
        lambda: asyncio.sleep(0, bool(receiver.accepted.get("flaky"))), "deliveries after resuming"
    )
    again = await api.http.post(
        f"/subscriptions/{created['id']}/resume", headers=api.auth("monitor")
    )
    assert again.status_code == 409


BAD = [
    ({"url": "ftp://127.0.0.1/x"}, "/url", "scheme"),
    ({"url": "file:///etc/passwd"}, "/url", "scheme"),
    ({"url": "http://169.254.169.254/latest/meta-data"}, "/url", "allowed hosts"),
    ({"url": "http://127.0.0.1:5432/"}, "/url", "allowed hosts"),
    ({"url": "http://localhost/"}, "/url", "allowed hosts"),
    ({"event_types": ["created", "exploded"]}, "/event_types/1", "not a ticket event type"),
    ({"filter": "type =="}, "/filter", ""),
    ({"secret": "hunter2hunter2hunter2hunter2"}, "/secret", "whsec_"),
    ({"owner": "someone-else"}, "/owner", ""),
]


@pytest.mark.parametrize(("change", "pointer", "detail"), BAD)
async def test_bad_subscriptions_are_refused_by_pointer_and_leave_nothing(
    hooked: tuple[Api, Receiver], change: dict[str, Any], pointer: str, detail: str
) -> None:
    api, receiver = hooked
    body = {"url": receiver.url("x"), "secret": _secret(4)[0], **change}
    response = await api.http.post("/subscriptions", json=body, headers=api.auth("monitor"))
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    problems = response.json()["errors"]
    assert any(p["pointer"] == pointer and detail in p["detail"] for p in problems), problems
    listed = await api.http.get("/subscriptions", headers=api.auth("root"))
    assert listed.json() == []


async def test_only_systems_and_admins_subscribe_and_each_sees_only_their_own(
    hooked: tuple[Api, Receiver],
) -> None:
    api, receiver = hooked
    body = {"url": receiver.url("x"), "secret": _secret(5)[0]}
    for user in ("rita", "dana", "audrey", "owner"):
        response = await api.http.post("/subscriptions", json=body, headers=api.auth(user))
        assert response.status_code == 403, (user, response.text)
    created = await _subscribe(api, "monitor", body)
    assert (await api.http.get("/subscriptions", headers=api.auth("root"))).json()[0][
        "id"
    ] == created["id"]
    assert (await api.http.get("/subscriptions", headers=api.auth("monitor"))).json()[0][
        "owner"
    ] == "monitor"
    async with api.sessions() as session, session.begin():
        _row, other = await add_user(
            session=session, name="crm", department="sales", role="system", now=datetime.now(UTC)
        )
    theirs = await api.http.get(
        f"/subscriptions/{created['id']}", headers={"Authorization": f"Bearer {other}"}
    )
    assert theirs.status_code == 404
    assert (
        await api.http.get("/subscriptions", headers={"Authorization": f"Bearer {other}"})
    ).json() == []
