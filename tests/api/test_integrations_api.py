"""Inbound connectors over real HTTP: a real dev server, worker and database.

An event files one ticket per open correlation key, each event id counts once (even when it
arrives twice at once), and a delivery not signed with the connector's secret records nothing.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from domain.webhook_signatures import signed_headers
from store.models import InboundEventRow, TicketEventRow, TicketRow
from tests.api.conftest import Api
from tests.api.helpers import PROBLEM, publish_incident

KEY = bytes(range(32))
SECRET = "whsec_" + base64.b64encode(KEY).decode()
CRM = {
    "name": "crm",
    "definition": "incident",
    "secret": SECRET,
    "correlation": "/case/id",
    "fields": {"title": "/case/subject", "email": "/case/contact/email"},
    "event": "crm_case",
}
CONNECTORS = pytest.mark.parametrize("api_settings", [{"connectors": [CRM]}], indirect=True)
# Signals are projected within moments; this only bounds a test that would otherwise hang.
PATIENCE = 30.0


def _case(case_id: Any, subject: str = "Order 1182 never arrived") -> dict[str, Any]:
    return {"case": {"id": case_id, "subject": subject, "contact": {"email": "ana@example.com"}}}


async def _deliver(
    api: Api,
    event: dict[str, Any],
    event_id: str,
    *,
    key: bytes = KEY,
    user: str = "monitor",
    connector: str = "crm",
) -> httpx.Response:
    body = json.dumps(event).encode()
    headers = {
        "Content-Type": "application/json",
        **api.auth(user),
        **signed_headers(key, event_id, int(time.time()), body),
    }
    return await api.http.post(f"/integrations/{connector}/events", content=body, headers=headers)


async def _count(api: Api, model: Any) -> int:
    async with api.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def _recorded(api: Api, key: str, count: int) -> list[dict[str, Any]]:
    """The ticket's external events once `count` of them are projected."""
    deadline = time.monotonic() + PATIENCE
    while True:
        async with api.sessions() as session:
            rows = list(
                await session.scalars(
                    select(TicketEventRow)
                    .where(
                        TicketEventRow.ticket_key == key, TicketEventRow.type == "external_event"
                    )
                    .order_by(TicketEventRow.seq)
                )
            )
        if len(rows) >= count:
            return [r.data for r in rows]
        assert time.monotonic() < deadline, f"timed out waiting for {count} external events"
        await asyncio.sleep(0.2)


@CONNECTORS
async def test_the_same_event_twice_files_one_ticket_and_records_one_signal(api: Api) -> None:
    await publish_incident(api)
    event_id = f"evt-{uuid.uuid4().hex}"
    first = await _deliver(api, _case("C-1"), event_id)
    assert first.status_code == 201, first.text
    key = first.json()["ticket"]
    assert first.json() == {"ticket": key, "action": "created", "replayed": False}
    again = await _deliver(api, _case("C-1"), event_id)
    assert again.status_code == 200, again.text
    assert again.json() == {"ticket": key, "action": "created", "replayed": True}
    # Two deliveries of one new event at the same moment: still one ticket between them.
    racing = f"evt-{uuid.uuid4().hex}"
    both = await asyncio.gather(*(_deliver(api, _case("C-2"), racing) for _ in range(2)))
    assert sorted(r.status_code for r in both) in ([200, 201], [201, 201]), [r.text for r in both]
    assert both[0].json()["ticket"] == both[1].json()["ticket"] != key
    assert await _count(api, TicketRow) == 2
    assert await _count(api, InboundEventRow) == 2
    async with api.sessions() as session:
        ticket = await session.get(TicketRow, key)
    assert ticket is not None
    assert ticket.intake == {"title": "Order 1182 never arrived", "email": "ana@example.com"}
    assert ticket.requester == "monitor"
    [recorded] = await _recorded(api, key, 1)
    assert recorded["name"] == "crm_case"
    assert recorded["payload"] == _case("C-1")
    await asyncio.sleep(0.5)  # a second signal, were one sent, would be projected by now
    assert len(await _recorded(api, key, 1)) == 1


@CONNECTORS
async def test_events_with_the_same_correlation_key_signal_the_open_ticket(api: Api) -> None:
    await publish_incident(api)
    first = await _deliver(api, _case(4711), f"evt-{uuid.uuid4().hex}")
    assert first.status_code == 201, first.text
    key = first.json()["ticket"]
    follow_up = await _deliver(api, _case(4711, "Customer called again"), f"evt-{uuid.uuid4()}")
    assert follow_up.status_code == 202, follow_up.text
    assert follow_up.json() == {"ticket": key, "action": "signalled", "replayed": False}
    other = await _deliver(api, _case(4712), f"evt-{uuid.uuid4().hex}")
    assert other.status_code == 201, other.text
    assert other.json()["ticket"] != key
    events = await _recorded(api, key, 2)
    assert [e["payload"]["case"]["subject"] for e in events] == [
        "Order 1182 never arrived",
        "Customer called again",
    ]
    assert await _count(api, TicketRow) == 2


@CONNECTORS
@pytest.mark.parametrize(
    "forgery",
    ["wrong key", "no signature", "changed body"],
)
async def test_a_delivery_not_signed_with_the_secret_records_nothing(
    api: Api, forgery: str
) -> None:
    await publish_incident(api)
    event = _case("C-9")
    body = json.dumps(event).encode()
    headers = {"Content-Type": "application/json", **api.auth("monitor")}
    if forgery == "wrong key":
        headers |= signed_headers(bytes(32), "evt-forged", int(time.time()), body)
    elif forgery == "changed body":
        headers |= signed_headers(KEY, "evt-forged", int(time.time()), b"{}")
    response = await api.http.post("/integrations/crm/events", content=body, headers=headers)
    assert response.status_code == 401, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    assert await _count(api, TicketRow) == 0
    assert await _count(api, InboundEventRow) == 0


@CONNECTORS
async def test_bad_deliveries_are_problems_by_pointer_and_leave_nothing(api: Api) -> None:
    await publish_incident(api)
    unknown = await _deliver(api, _case("C-1"), "evt-1", connector="erp")
    assert unknown.status_code == 404, unknown.text
    assert unknown.headers["content-type"].startswith(PROBLEM)
    # Only systems deliver events (admins may too); a requester may not.
    person = await _deliver(api, _case("C-1"), "evt-1", user="rita")
    assert person.status_code == 403, person.text
    missing = await _deliver(api, {"case": {"subject": "no id", "contact": {}}}, "evt-2")
    assert missing.status_code == 422, missing.text
    pointers = {p["pointer"] for p in missing.json()["errors"]}
    assert pointers == {"/case/id", "/case/contact/email"}
    refused = await _deliver(api, _case("C-3", subject="no"), "evt-3")
    assert refused.status_code == 422, refused.text
    [problem] = refused.json()["errors"]
    assert problem["pointer"] == "/case/subject"
    assert "title" in problem["detail"]
    not_object = await _deliver(api, [1, 2], "evt-4")  # type: ignore[arg-type]
    assert not_object.status_code == 422, not_object.text
    assert await _count(api, TicketRow) == 0
    assert await _count(api, InboundEventRow) == 0
