"""Triage over HTTP: the definition block, the ticket's triage view, dispatch, KPIs."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.api.conftest import Api
from tests.api.helpers import PROBLEM, create_ticket, publish_incident, work

TRIAGE = {"threshold": 0.8, "dispatcher_group": "service-desk", "routed_stages": ["diagnose"]}


async def triage_view(api: Api, key: str) -> dict[str, Any]:
    for _ in range(100):
        response = await api.http.get(f"/tickets/{key}/triage", headers=api.auth("dana"))
        if response.status_code == 200:
            body: dict[str, Any] = response.json()
            return body
        assert response.status_code == 404, response.text
        await asyncio.sleep(0.05)
    raise AssertionError(f"{key} was never triaged")


async def test_without_a_model_the_desk_dispatches_and_the_kpis_count_it(api: Api) -> None:
    await publish_incident(api, triage={**TRIAGE, "teams": ["ops", "network"]})
    key = await create_ticket(api, title="Switch port flapping on floor 2")
    view = await triage_view(api, key)
    assert view["routed"] is False
    assert view["model_version"] is None
    assert view["result"]["error"] == "no trained triage model yet"
    queue = (await api.http.get("/triage/queue", headers=api.auth("dana"))).json()
    assert [(q["key"], q["error"]) for q in queue] == [(key, "no trained triage model yet")]

    # otto's department (ops) has no part in the ticket yet: he cannot see it at all.
    assert (await api.http.get("/triage/queue", headers=api.auth("otto"))).json() == []
    outsider = await api.http.post(
        f"/tickets/{key}/triage/dispatch", json={"team": "ops"}, headers=api.auth("otto")
    )
    assert outsider.status_code == 404
    bad_priority = await api.http.post(
        f"/tickets/{key}/triage/dispatch",
        json={"team": "ops", "priority": "urgent"},
        headers=api.auth("dana"),
    )
    assert bad_priority.status_code == 422
    unlisted = await api.http.post(
        f"/tickets/{key}/triage/dispatch", json={"team": "dev"}, headers=api.auth("dana")
    )
    assert unlisted.status_code == 422
    done = await api.http.post(
        f"/tickets/{key}/triage/dispatch",
        json={"team": "ops", "category": "network", "priority": "P2", "reason": "port errors"},
        headers=api.auth("dana"),
    )
    assert done.status_code == 200, done.text
    detail = (await api.http.get(f"/tickets/{key}", headers=api.auth("dana"))).json()
    assert detail["priority"] == "P2"
    assert {t["stage_key"]: t["group"] for t in detail["tasks"]}["diagnose"] == "ops"
    assert (await triage_view(api, key))["final_team"] == "ops"
    assert (await api.http.get("/triage/queue", headers=api.auth("dana"))).json() == []

    kpis = (await api.http.get("/kpis/triage", headers=api.auth("audrey"))).json()
    assert kpis["triaged"] == 1
    assert kpis["auto_routed"] == 0
    assert kpis["teams"]["ops"]["actual"] == 1
    assert kpis["repeat_submission_rate"] == 0
    assert (await api.http.get("/kpis/triage", headers=api.auth("rita"))).status_code == 403


async def test_bad_dispatch_body_and_bad_triage_block_are_problems(api: Api) -> None:
    bad = await api.http.post(
        "/definitions",
        json={
            **{"key": "badtriage", "title": "x", "key_prefix": "BT", "department": "d"},
            "intake_form": {"type": "object"},
            "stages": [{"key": "a", "title": "A", "group": "g"}],
            "triage": {"dispatcher_group": "d", "routed_stages": ["nope"], "threshold": 2},
        },
        headers=api.auth("owner"),
    )
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith(PROBLEM)
    pointers = {e["pointer"] for e in bad.json()["errors"]}
    assert "/triage/threshold" in pointers

    await publish_incident(api, triage=TRIAGE)
    key = await create_ticket(api)
    await triage_view(api, key)
    response = await api.http.post(
        f"/tickets/{key}/triage/dispatch",
        json={"team": "", "colour": "red"},
        headers=api.auth("dana"),
    )
    assert response.status_code == 422
    assert {e["pointer"] for e in response.json()["errors"]} == {"/team", "/colour"}
    models = await api.http.get("/triage/models", headers=api.auth("dana"))
    assert models.json() == []


async def file(
    api: Api, user: str, data: dict[str, Any], **extra: Any
) -> tuple[int, dict[str, Any]]:
    response = await api.http.post(
        "/tickets",
        json={"definition": "incident", "data": data, **extra},
        headers=api.auth(user),
    )
    body: dict[str, Any] = response.json()
    return response.status_code, body


async def test_a_repeat_report_is_linked_to_the_open_ticket(api: Api) -> None:
    duplicates = {"threshold": 0.6, "window_hours": 24}
    await publish_incident(api, triage={**TRIAGE, "duplicates": duplicates})
    status, first = await file(api, "rita", {"title": "VPN down since 9am, cannot connect"})
    assert status == 201
    await triage_view(api, first["key"])

    status, again = await file(api, "rita", {"title": "VPN down since 9 am - cannot connect"})
    assert status == 200
    assert again["key"] == first["key"]
    assert again["duplicate_of"] == first["key"]
    for _ in range(100):
        events = (
            await api.http.get(f"/tickets/{first['key']}/events", headers=api.auth("dana"))
        ).json()
        if any(e["type"] == "duplicate_reported" for e in events):
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("the open ticket never heard of the repeat")

    # The same request retried with its Idempotency-Key is reported to the ticket once.
    retried = {"definition": "incident", "data": {"title": "VPN down again, cannot connect"}}
    headers = {**api.auth("rita"), "Idempotency-Key": "vpn-again"}
    for _ in range(2):
        response = await api.http.post("/tickets", json=retried, headers=headers)
        assert (response.status_code, response.json()["duplicate_of"]) == (200, first["key"])
    handle = api.env.client.get_workflow_handle(first["key"])
    state = await handle.query("state")
    reports = [e for e in state["events"] if e["type"] == "duplicate_reported"]
    assert len(reports) == 2  # the first repeat above, and the retried one once

    other_requester = await file(api, "sam", {"title": "VPN down since 9am, cannot connect"})
    unrelated = await file(api, "rita", {"title": "Printer on floor 3 jams every page"})
    insisted = await file(
        api, "rita", {"title": "VPN down since 9am, cannot connect"}, allow_duplicate=True
    )
    for status, body in (other_requester, unrelated, insisted):
        assert status == 201
        assert body["duplicate_of"] is None
        assert body["key"] != first["key"]
        await triage_view(api, body["key"])
    kpis = (await api.http.get("/kpis/triage", headers=api.auth("audrey"))).json()
    assert kpis["duplicates"] == 2
    assert kpis["repeat_submission_rate"] == round(2 / 6, 4)


async def test_the_same_asset_links_reports_from_different_people(api: Api) -> None:
    await publish_incident(
        api,
        triage={**TRIAGE, "duplicates": {"threshold": 0.5}},
        intake_form={
            "type": "object",
            "properties": {"title": {"type": "string"}, "asset_id": {"type": "string"}},
        },
    )
    status, first = await file(api, "rita", {"title": "Press 4 hydraulic leak", "asset_id": "P-4"})
    assert status == 201
    # The desk's agent sees rita's ticket, so her report is merged into it.
    status, again = await file(
        api, "dana", {"title": "hydraulic leak on press 4", "asset_id": "P-4"}
    )
    assert (status, again["duplicate_of"]) == (200, first["key"])
    # sam may not see it: his report is filed (and linked for the desk, see tests/security).
    status, own = await file(api, "sam", {"title": "hydraulic leak on press 4", "asset_id": "P-4"})
    assert (status, own["duplicate_of"]) == (201, None)


async def test_a_caller_who_sees_the_ticket_but_may_not_dispatch_hears_why(api: Api) -> None:
    await publish_incident(api, triage={**TRIAGE, "teams": ["ops", "network"]})
    key = await create_ticket(api, title="Switch port flapping on floor 2")
    await triage_view(api, key)
    # The requester sees her ticket; she is not the dispatcher group.
    own = await api.http.post(
        f"/tickets/{key}/triage/dispatch", json={"team": "ops"}, headers=api.auth("rita")
    )
    assert own.status_code == 403
    assert own.headers["content-type"].startswith(PROBLEM)
    assert own.json()["detail"] == "dispatching belongs to group 'service-desk'"
    done = await api.http.post(
        f"/tickets/{key}/triage/dispatch", json={"team": "ops"}, headers=api.auth("dana")
    )
    assert done.status_code == 200, done.text
    await work(api, key, "triage", "dana")
    # otto's ops now handles the ticket (diagnose opened there), so he sees it; correcting the
    # dispatch is still the desk's.
    assert (await api.http.get(f"/tickets/{key}", headers=api.auth("otto"))).status_code == 200
    handler = await api.http.post(
        f"/tickets/{key}/triage/dispatch", json={"team": "network"}, headers=api.auth("otto")
    )
    assert handler.status_code == 403
    assert handler.json()["detail"] == "dispatching belongs to group 'service-desk'"
