"""Care over HTTP on the dev server: a closed ticket's confirmation task listed, refused to
outsiders, decided by the care department; the care on the timeline and in the customer's
history, each redacted by field-level access."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.api.conftest import Api
from tests.api.helpers import PROBLEM, publish_incident
from tests.api.test_customers_api import CONSENT, CUSTOMER, add_care_agent
from tests.builders import INCIDENT

STRATEGY: dict[str, Any] = {
    "key": "after-incident",
    "rules": [
        {
            "name": "everyone",
            "actions": [
                {"action": "supervisor_call", "delay": "PT0S", "mode": "confirm"},
                {"action": "survey", "delay": "P3D"},
            ],
        }
    ],
}


async def closed_ticket(api: Api) -> str:
    """Publish the strategy and a one-stage incident that opts in; close a ticket of C-1."""
    assert (
        await api.http.post("/care/strategies", json=STRATEGY, headers=api.auth("owner"))
    ).status_code == 201
    form = INCIDENT["intake_form"]
    await publish_incident(
        api,
        intake_form={
            **form,
            "properties": {**form["properties"], "customer_id": {"type": "string"}},
        },
        stages=[{"key": "triage", "title": "Triage", "group": "service-desk"}],
        care={"strategy": "after-incident"},
    )
    await add_care_agent(api)
    assert (
        await api.http.post("/customers", json=CUSTOMER, headers=api.auth("carla"))
    ).status_code == 201
    given = await api.http.post("/customers/C-1/consents", json=CONSENT, headers=api.auth("carla"))
    assert given.status_code == 201
    filed = await api.http.post(
        "/tickets",
        json={"definition": "incident", "data": {"title": "AC leaks", "customer_id": "C-1"}},
        headers=api.auth("rita"),
    )
    assert filed.status_code == 201, filed.text
    key: str = filed.json()["key"]
    for step, body in (("claim", None), ("complete", {"data": {}})):
        done = await api.http.post(
            f"/tickets/{key}/tasks/triage/{step}", json=body, headers=api.auth("dana")
        )
        assert done.status_code == 200, done.text
    confirmed = await api.http.post(f"/tickets/{key}/confirm", json={}, headers=api.auth("rita"))
    assert confirmed.status_code == 200, confirmed.text
    return key


async def open_tasks(api: Api) -> list[dict[str, Any]]:
    """The open care tasks, once the care workflow has opened one (real time)."""
    for _ in range(200):
        listed = await api.http.get("/care/tasks", headers=api.auth("carla"))
        assert listed.status_code == 200, listed.text
        items: list[dict[str, Any]] = listed.json()["items"]
        if items:
            return items
        await asyncio.sleep(0.05)
    raise AssertionError("no care task was opened")


async def test_the_care_department_decides_a_closed_tickets_confirmation(api: Api) -> None:
    key = await closed_ticket(api)
    [task] = await open_tasks(api)
    assert (task["ticket_key"], task["action"], task["status"]) == (key, "supervisor_call", "open")
    assert task["customer_id"] == "C-1"
    for outsider in ("dana", "rita", "audrey", "owner"):
        seen = await api.http.get("/care/tasks", headers=api.auth(outsider))
        assert seen.status_code == 403, outsider
        assert seen.headers["content-type"] == PROBLEM
    path = f"/care/tasks/{task['id']}/decision"
    refused = await api.http.post(path, json={"approve": True}, headers=api.auth("dana"))
    assert refused.status_code == 403
    reasonless = await api.http.post(path, json={"approve": False}, headers=api.auth("carla"))
    assert reasonless.status_code == 422
    bad = await api.http.post(path, json={"approve": "maybe"}, headers=api.auth("carla"))
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["pointer"] == "/approve"
    missing = await api.http.post(
        "/care/tasks/nope/decision", json={"approve": True}, headers=api.auth("carla")
    )
    assert missing.status_code == 404
    headers = {**api.auth("carla"), "Idempotency-Key": "decide-1"}
    approved = await api.http.post(path, json={"approve": True, "reason": "VIP"}, headers=headers)
    assert approved.status_code == 200, approved.text
    assert (approved.json()["status"], approved.json()["decided_by"]) == ("approved", "carla")
    again = await api.http.post(path, json={"approve": True, "reason": "VIP"}, headers=headers)
    assert again.json() == approved.json()  # the same key: the first outcome
    late = await api.http.post(
        path, json={"approve": False, "reason": "no"}, headers=api.auth("carla")
    )
    assert late.status_code == 409
    assert await open_tasks_after(api) == []

    # The timeline: the ticket's handlers see the care; the requester does not.
    for _ in range(200):
        events = (await api.http.get(f"/tickets/{key}/events", headers=api.auth("dana"))).json()
        outcomes = [e["data"].get("outcome") for e in events if e["type"] == "care_action"]
        if "recorded" in outcomes:
            break
        await asyncio.sleep(0.05)
    assert outcomes == ["awaiting_confirmation", "approved", "recorded"]
    own = (await api.http.get(f"/tickets/{key}/events", headers=api.auth("rita"))).json()
    assert own
    assert not [e for e in own if e["type"].startswith("care_")]

    # The customer's history: whole for the care department, no steps for the others.
    history = await api.http.get("/customers/C-1/history", headers=api.auth("carla"))
    assert history.status_code == 200
    steps = history.json()["items"]
    assert {s["ticket_key"] for s in steps} == {key}
    assert [s["data"].get("outcome") for s in steps if s["type"] == "care_action"][:1] == [
        "recorded"
    ]
    for reader in ("audrey", "dana"):
        other = await api.http.get("/customers/C-1/history", headers=api.auth(reader))
        assert other.status_code == 200
        assert other.json() == {"customer_id": "C-1"}
    assert (
        await api.http.get("/customers/C-1/history", headers=api.auth("rita"))
    ).status_code == 403


async def open_tasks_after(api: Api) -> list[dict[str, Any]]:
    """The open care tasks now."""
    listed = await api.http.get("/care/tasks", headers=api.auth("carla"))
    items: list[dict[str, Any]] = listed.json()["items"]
    return items
