"""A task queue page is filled past tasks of hidden tickets, so its length tells nothing."""

from __future__ import annotations

import asyncio

from tests.api.conftest import Api
from tests.api.helpers import publish_incident


async def _file(api: Api, definition: str) -> str:
    created = await api.http.post(
        "/tickets",
        json={"definition": definition, "data": {"title": "Badge reader broken"}},
        headers=api.auth("rita"),
    )
    assert created.status_code == 201, created.text
    key: str = created.json()["key"]
    return key


async def test_a_short_queue_page_does_not_count_hidden_tickets(api: Api) -> None:
    desk_only = [{"key": "triage", "title": "Triage", "group": "service-desk"}]
    await publish_incident(api, key="desk", stages=desk_only)
    await publish_incident(api, key="plant", stages=desk_only, department="ops")
    hidden = await _file(api, "desk")  # ops has no part in it: otto gets 404
    shown = await _file(api, "plant")  # ops owns it
    assert (await api.http.get(f"/tickets/{hidden}", headers=api.auth("otto"))).status_code == 404

    for limit in (1, 2):
        page = await api.http.get(
            f"/tasks?group=service-desk&limit={limit}", headers=api.auth("otto")
        )
        assert page.status_code == 200, page.text
        assert [t["ticket_key"] for t in page.json()["items"]] == [shown]
        assert hidden not in page.text
    desk = await api.http.get("/tasks?limit=1", headers=api.auth("dana"))
    assert [t["ticket_key"] for t in desk.json()["items"]] == [hidden]


async def test_a_short_dispatch_queue_page_does_not_count_hidden_tickets(api: Api) -> None:
    stages = [{"key": "triage", "title": "Triage", "group": "service-desk"}]
    triage = {"dispatcher_group": "service-desk", "routed_stages": ["triage"]}
    await publish_incident(api, key="desk", stages=stages, triage=triage)
    await publish_incident(api, key="plant", stages=stages, triage=triage, department="ops")
    hidden = await _file(api, "desk")
    shown = await _file(api, "plant")
    for _ in range(100):
        queue = (await api.http.get("/triage/queue", headers=api.auth("dana"))).json()
        if len(queue) == 2:
            break
        await asyncio.sleep(0.05)
    assert [q["key"] for q in queue] == [hidden, shown]
    page = await api.http.get("/triage/queue?limit=1", headers=api.auth("otto"))
    assert [q["key"] for q in page.json()] == [shown]
