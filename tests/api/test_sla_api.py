"""Calendars, SLA clocks, priority, waiting, notifications and KPIs over HTTP (dev server)."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.api.conftest import Api
from tests.api.helpers import PROBLEM, incident_document, publish_incident, work

OFFICE: dict[str, Any] = {
    "key": "office",
    "title": "Shanghai office",
    "timezone": "Asia/Shanghai",
    "hours": {d: ["09:00-12:00", "13:00-18:00"] for d in ("mon", "tue", "wed", "thu", "fri")},
    "holidays": ["2026-10-01", "2026-10-02"],
    "makeup_days": ["2026-10-10"],
}
# Short real targets: the dev server's clock is the wall clock.
FAST_SLA: dict[str, Any] = {
    "targets": {"P1": "PT2S", "P2": "PT4S"},
    "target": "PT1H",
    "pause_when": ["customer"],
    "ladder": [
        {
            "name": "half",
            "at_fraction": 0.5,
            "actions": [{"type": "notify", "recipients": ["group:service-desk", "requester"]}],
        },
        {
            "name": "due",
            "at_fraction": 1.0,
            "actions": [{"type": "escalate", "group": "cto-office"}],
        },
    ],
}


async def test_calendars_publish_as_versions_beside_the_built_in_one(api: Api) -> None:
    first = await api.http.post("/calendars", json=OFFICE, headers=api.auth("owner"))
    assert first.status_code == 201, first.text
    second = await api.http.post(
        "/calendars", json={**OFFICE, "title": "Shanghai office v2"}, headers=api.auth("owner")
    )
    assert (first.json()["ref"], second.json()["ref"]) == ("office@1", "office@2")
    listed = await api.http.get("/calendars", headers=api.auth("dana"))
    assert [c["ref"] for c in listed.json()] == ["24x7", "office@2", "office@1"]
    one = await api.http.get("/calendars/office/versions/1", headers=api.auth("dana"))
    assert one.json()["document"]["makeup_days"] == ["2026-10-10"]
    refused = await api.http.post("/calendars", json=OFFICE, headers=api.auth("dana"))
    assert refused.status_code == 403


async def test_a_bad_calendar_is_refused_with_every_problem_and_nothing_stored(api: Api) -> None:
    bad = {
        **OFFICE,
        "timezone": "Asia/Atlantis",
        "hours": {"mon": ["09:00-12:00", "11:30-14:00"], "tue": ["18:00-09:00"]},
        "makeup_days": ["2026-10-01"],
    }
    response = await api.http.post("/calendars", json=bad, headers=api.auth("owner"))
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    assert {e["pointer"] for e in response.json()["errors"]} == {
        "/timezone",
        "/hours/mon/1",
        "/hours/tue/0",
        "/makeup_days/0",
    }
    listed = await api.http.get("/calendars", headers=api.auth("owner"))
    assert [c["ref"] for c in listed.json()] == ["24x7"]


async def test_definitions_pin_their_calendar_and_bad_slas_list_every_problem(api: Api) -> None:
    await api.http.post("/calendars", json=OFFICE, headers=api.auth("owner"))
    published = await publish_incident(api, sla={"target": "PT8H", "calendar": "office"})
    assert published["document"]["sla"]["calendar"] == "office@1"
    assert published["document"]["calendars"]["office@1"]["timezone"] == "Asia/Shanghai"

    document = incident_document(
        key_prefix=api.prefix,
        sla={
            "target": "-PT1H",
            "calendar": "nowhere",
            "ladder": [
                {"at_fraction": 1.0, "actions": [{"type": "notify", "recipients": ["boss"]}]},
                {"at_fraction": 0.5, "actions": [{"type": "escalate"}]},
            ],
        },
    )
    document["stages"][0]["milestone"] = True
    response = await api.http.post("/definitions", json=document, headers=api.auth("owner"))
    assert response.status_code == 422
    assert {e["pointer"] for e in response.json()["errors"]} == {
        "/sla/target",
        "/sla/calendar",
        "/sla/ladder/0/actions/0/recipients/0",
        "/sla/ladder/1/actions/0/group",
        "/stages/0/milestone",
    }


async def _wait_for(api: Api, path: str, user: str, ready: Any, seconds: float = 20) -> Any:
    """Poll a GET until `ready(body)` holds (the dev server runs on real time)."""
    body: Any = None
    for _ in range(int(seconds * 10)):
        response = await api.http.get(path, headers=api.auth(user))
        assert response.status_code == 200, response.text
        body = response.json()
        if ready(body):
            return body
        await asyncio.sleep(0.1)
    raise AssertionError(f"{path} never got ready: {body}")


async def test_a_p1_ticket_escalates_notifies_and_counts_in_the_kpis(api: Api) -> None:
    await publish_incident(api, sla=FAST_SLA)
    created = await api.http.post(
        "/tickets",
        json={"definition": "incident", "data": {"title": "Core switch down"}, "priority": "P1"},
        headers=api.auth("rita"),
    )
    assert created.status_code == 201, created.text
    key = created.json()["key"]
    ticket = await api.http.get(f"/tickets/{key}", headers=api.auth("rita"))
    assert ticket.json()["priority"] == "P1"

    sla = await _wait_for(
        api, f"/tickets/{key}/sla", "dana", lambda b: b["clocks"][0]["state"] == "breached"
    )
    clock = sla["clocks"][0]
    assert (clock["id"], clock["target_seconds"]) == ("ticket", 2.0)
    assert [r["fired_at"] is not None for r in clock["rungs"]] == [True, True]
    assert clock["remaining_seconds"] < 0

    desk = await _wait_for(api, f"/notifications?ticket={key}", "dana", lambda b: len(b) >= 1)
    assert {n["recipient"] for n in desk} == {"group:service-desk"}
    mine = await _wait_for(api, f"/notifications?ticket={key}", "rita", lambda b: len(b) >= 1)
    assert {n["recipient"] for n in mine} == {"user:rita"}
    cto = await api.http.get(
        f"/notifications?ticket={key}&recipient=group:cto-office", headers=api.auth("root")
    )
    assert [n["recipient"] for n in cto.json()] == ["group:cto-office"]
    nosy = await api.http.get("/notifications?recipient=group:ops", headers=api.auth("rita"))
    assert nosy.status_code == 403

    # The escalation's follow-up is in cto-office's queue, with its own id and kind, and is
    # worked at its own URL.
    queue = await api.http.get("/tasks?group=cto-office", headers=api.auth("root"))
    assert [(t["stage_key"], t["kind"]) for t in queue.json()["items"]] == [("F1", "followup")]
    as_stage = await api.http.post(f"/tickets/{key}/tasks/F1/claim", headers=api.auth("root"))
    assert as_stage.status_code == 404
    claimed = await api.http.post(f"/tickets/{key}/followups/F1/claim", headers=api.auth("root"))
    assert claimed.status_code == 200, claimed.text
    done = await api.http.post(
        f"/tickets/{key}/followups/F1/complete",
        json={"data": {"note": "called the vendor"}},
        headers=api.auth("root"),
    )
    assert done.status_code == 200, done.text
    assert (done.json()["task"]["status"], done.json()["task"]["kind"]) == ("done", "followup")
    ghost = await api.http.post(
        f"/tickets/{key}/followups/F9/complete", json={"data": {}}, headers=api.auth("root")
    )
    assert ghost.status_code == 404
    not_an_id = await api.http.post(
        f"/tickets/{key}/followups/triage/claim", headers=api.auth("root")
    )
    assert not_an_id.status_code == 404

    kpis = await api.http.get("/kpis?definition=incident", headers=api.auth("dana"))
    assert kpis.status_code == 200, kpis.text
    report = kpis.json()
    assert report["tickets"] == 1
    assert report["open_tickets_by_clock_state"] == {"breached": 1}
    assert report["escalations_by_rung"] == [
        {"clock": "ticket", "rung": 0, "count": 1},
        {"clock": "ticket", "rung": 1, "count": 1},
    ]
    assert (await api.http.get("/kpis", headers=api.auth("rita"))).status_code == 403


async def test_a_cancelled_ticket_ends_its_wait_withdraws_its_follow_up_and_is_not_met(
    api: Api,
) -> None:
    await publish_incident(api, sla=FAST_SLA)
    created = await api.http.post(
        "/tickets",
        json={"definition": "incident", "data": {"title": "Core switch down"}, "priority": "P1"},
        headers=api.auth("rita"),
    )
    key = created.json()["key"]
    await _wait_for(
        api, "/tasks?group=cto-office", "root", lambda b: [t["stage_key"] for t in b["items"]]
    )
    paused = await api.http.post(
        f"/tickets/{key}/pause", json={"reason": "supplier"}, headers=api.auth("dana")
    )
    assert paused.status_code == 200, paused.text
    cancelled = await api.http.post(
        f"/tickets/{key}/cancel", json={"reason": "vendor replaced it"}, headers=api.auth("rita")
    )
    assert cancelled.status_code == 200, cancelled.text

    queue = await api.http.get("/tasks?group=cto-office", headers=api.auth("root"))
    assert queue.json()["items"] == []
    late = await api.http.post(f"/tickets/{key}/followups/F1/claim", headers=api.auth("root"))
    assert late.status_code == 409
    ticket = (await api.http.get(f"/tickets/{key}", headers=api.auth("dana"))).json()
    sla = (await api.http.get(f"/tickets/{key}/sla", headers=api.auth("dana"))).json()
    assert (ticket["waiting_for"], sla["waiting_for"]) == (None, None)
    events = await api.http.get(f"/tickets/{key}/events", headers=api.auth("dana"))
    types = [e["type"] for e in events.json()]
    ended = types.index("waiting_ended")
    assert types[ended : ended + 3] == ["waiting_ended", "task_cancelled", "cancelled"]
    assert types[ended + 3 :] == ["sla_stopped"]
    # A P3 ticket (an hour's target) cancelled at once: its clock is cancelled, not met.
    other = await api.http.post(
        "/tickets",
        json={"definition": "incident", "data": {"title": "Mouse squeaks"}},
        headers=api.auth("rita"),
    )
    gone = await api.http.post(
        f"/tickets/{other.json()['key']}/cancel", json={"reason": "x"}, headers=api.auth("rita")
    )
    assert gone.status_code == 200, gone.text
    report = (await api.http.get("/kpis?definition=incident", headers=api.auth("dana"))).json()
    # The first ticket's clock breached before its cancel, and stays breached.
    assert (report["sla_met"], report["sla_breached"], report["sla_cancelled"]) == (0, 1, 1)
    assert report["sla_met_rate"] == 0.0


async def test_a_follow_up_holds_the_resolution_until_withdrawn(api: Api) -> None:
    await publish_incident(api, sla=FAST_SLA)
    created = await api.http.post(
        "/tickets",
        json={"definition": "incident", "data": {"title": "Core switch down"}, "priority": "P1"},
        headers=api.auth("rita"),
    )
    key = created.json()["key"]
    await _wait_for(
        api, "/tasks?group=cto-office", "root", lambda b: [t["stage_key"] for t in b["items"]]
    )
    for stage, user in (("triage", "dana"), ("diagnose", "otto"), ("fix", "devi")):
        await work(api, key, stage, user)
    await work(api, key, "verify", "dana")
    ticket = (await api.http.get(f"/tickets/{key}", headers=api.auth("dana"))).json()
    assert ticket["status"] == "open"
    refused = await api.http.post(f"/tickets/{key}/followups/F1/withdraw", headers=api.auth("rita"))
    assert refused.status_code == 403
    # No body: no reason given. The ticket's own department may withdraw it.
    withdrawn = await api.http.post(
        f"/tickets/{key}/followups/F1/withdraw", headers=api.auth("dana")
    )
    assert withdrawn.status_code == 200, withdrawn.text
    assert (withdrawn.json()["status"], withdrawn.json()["task"]["status"]) == (
        "resolved",
        "cancelled",
    )


async def test_priority_and_waiting_are_updates_with_rules(api: Api) -> None:
    await publish_incident(api, sla={**FAST_SLA, "ladder": []})
    created = await api.http.post(
        "/tickets",
        json={"definition": "incident", "data": {"title": "Printer jam"}},
        headers=api.auth("rita"),
    )
    key = created.json()["key"]
    refused = await api.http.post(
        f"/tickets/{key}/priority", json={"priority": "P1"}, headers=api.auth("rita")
    )
    assert refused.status_code == 403
    bad = await api.http.post(
        f"/tickets/{key}/priority", json={"priority": "P9"}, headers=api.auth("dana")
    )
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["pointer"] == "/priority"

    paused = await api.http.post(
        f"/tickets/{key}/pause",
        json={"reason": "customer", "note": "need logs"},
        headers=api.auth("dana"),
    )
    assert paused.status_code == 200, paused.text
    again = await api.http.post(
        f"/tickets/{key}/pause", json={"reason": "supplier"}, headers=api.auth("dana")
    )
    assert again.status_code == 409
    changed = await api.http.post(
        f"/tickets/{key}/priority",
        json={"priority": "P2", "reason": "VIP"},
        headers=api.auth("dana"),
    )
    assert changed.status_code == 200, changed.text
    sla = (await api.http.get(f"/tickets/{key}/sla", headers=api.auth("rita"))).json()
    assert (sla["priority"], sla["waiting_for"]) == ("P2", "customer")
    clock = sla["clocks"][0]
    assert (clock["state"], clock["target_seconds"], clock["due_at"]) == ("paused", 4.0, None)

    # The requester may end a wait for the customer (she is the customer).
    resumed = await api.http.post(f"/tickets/{key}/resume", json={}, headers=api.auth("rita"))
    assert resumed.status_code == 200, resumed.text
    await work(api, key, "triage", "dana")
    events = await api.http.get(f"/tickets/{key}/events", headers=api.auth("dana"))
    types = [e["type"] for e in events.json()]
    assert types.index("waiting_started") < types.index("sla_paused") < types.index("sla_resumed")
    assert "priority_changed" in types
    assert "sla_retargeted" in types
