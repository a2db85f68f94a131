"""Who keeps a ticket after their part in it is over, and changes that need no body, over HTTP."""

from __future__ import annotations

from store.users import update_user
from tests.api.conftest import Api
from tests.api.helpers import create_ticket, publish_incident, work


async def _otto_works_diagnose_and_pauses(api: Api) -> str:
    """A ticket whose diagnose task otto (ops) claimed before putting it on hold."""
    await publish_incident(api)
    key = await create_ticket(api)
    await work(api, key, "triage", "dana")
    claimed = await api.http.post(f"/tickets/{key}/tasks/diagnose/claim", headers=api.auth("otto"))
    assert claimed.status_code == 200, claimed.text
    paused = await api.http.post(
        f"/tickets/{key}/pause", json={"reason": "supplier"}, headers=api.auth("otto")
    )
    assert paused.status_code == 200, paused.text
    return key


async def test_a_group_whose_task_moved_away_keeps_the_ticket(api: Api) -> None:
    key = await _otto_works_diagnose_and_pauses(api)
    # The move the SLA's reassign rung makes: the task leaves ops for dev's queue.
    moved = await api.http.post(
        f"/tickets/{key}/tasks/diagnose/reassign",
        json={"to_group": "dev", "reason": "a code fault"},
        headers=api.auth("otto"),
    )
    assert moved.status_code == 200, moved.text

    detail = await api.http.get(f"/tickets/{key}", headers=api.auth("otto"))
    assert detail.status_code == 200, detail.text
    listed = await api.http.get("/tickets", headers=api.auth("otto"))
    assert [t["key"] for t in listed.json()["items"]] == [key]
    by_department = await api.http.get("/tickets?department=ops", headers=api.auth("otto"))
    assert [t["key"] for t in by_department.json()["items"]] == [key]
    # Ops handled it: its agents write there as before (no body: no note).
    resumed = await api.http.post(f"/tickets/{key}/resume", headers=api.auth("otto"))
    assert resumed.status_code == 200, resumed.text
    sla = await api.http.get(f"/tickets/{key}/sla", headers=api.auth("otto"))
    assert sla.json()["waiting_for"] is None


async def test_a_person_who_worked_a_ticket_reads_it_and_ends_their_own_wait(api: Api) -> None:
    key = await _otto_works_diagnose_and_pauses(api)
    async with api.sessions() as session, session.begin():
        await update_user(session=session, name="otto", department="field")

    detail = await api.http.get(f"/tickets/{key}", headers=api.auth("otto"))
    assert detail.status_code == 200, detail.text
    listed = await api.http.get("/tickets", headers=api.auth("otto"))
    assert [t["key"] for t in listed.json()["items"]] == [key]
    # Field never handled it: reading, not writing...
    said = await api.http.post(
        f"/tickets/{key}/comments",
        json={"body": "still on it", "internal": True},
        headers=api.auth("otto"),
    )
    assert said.status_code == 403, said.text
    # ...except ending the wait he started.
    resumed = await api.http.post(f"/tickets/{key}/resume", headers=api.auth("otto"))
    assert resumed.status_code == 200, resumed.text
    # Another field agent who never worked it sees nothing.
    async with api.sessions() as session, session.begin():
        await update_user(session=session, name="devi", department="field")
    hidden = await api.http.get(f"/tickets/{key}", headers=api.auth("devi"))
    assert hidden.status_code == 404


async def test_resume_and_confirm_need_no_body(api: Api) -> None:
    await publish_incident(api)
    key = await create_ticket(api)
    paused = await api.http.post(
        f"/tickets/{key}/pause", json={"reason": "customer"}, headers=api.auth("dana")
    )
    assert paused.status_code == 200, paused.text
    resumed = await api.http.post(f"/tickets/{key}/resume", headers=api.auth("rita"))
    assert resumed.status_code == 200, resumed.text
    for stage, user in (("triage", "dana"), ("fix", "devi"), ("diagnose", "otto")):
        await work(api, key, stage, user)
    await work(api, key, "verify", "dana")
    confirmed = await api.http.post(f"/tickets/{key}/confirm", headers=api.auth("rita"))
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["status"] == "closed"
    events = (await api.http.get(f"/tickets/{key}/events", headers=api.auth("dana"))).json()
    ended = next(e for e in events if e["type"] == "waiting_ended")
    assert ended["data"]["note"] == ""
    assert not any(e["type"] == "comment_added" for e in events)


async def test_the_contract_says_which_bodies_are_optional(api: Api) -> None:
    paths = (await api.http.get("/openapi.json")).json()["paths"]
    for path in ("/tickets/{key}/resume", "/tickets/{key}/confirm"):
        assert not paths[path]["post"]["requestBody"].get("required", False), path
    # A reason is the point of these: they keep requiring a body.
    for path in ("/tickets/{key}/cancel", "/tickets/{key}/reopen", "/tickets/{key}/pause"):
        assert paths[path]["post"]["requestBody"]["required"] is True, path
    for path in ("/tickets/{key}/tasks/{stage}/claim", "/tickets/{key}/tasks/{stage}/unclaim"):
        assert "requestBody" not in paths[path]["post"], path
