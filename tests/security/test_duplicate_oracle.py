"""Filing a repeat of a ticket the filer may not see tells them nothing about that ticket."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from tests.api.conftest import Api
from tests.api.helpers import publish_incident

TRIAGE = {
    "threshold": 0.8,
    "dispatcher_group": "service-desk",
    "routed_stages": ["diagnose"],
    "duplicates": {"threshold": 0.5},
}
FORM = {
    "type": "object",
    "required": ["title"],
    "properties": {
        "title": {"type": "string"},
        "asset_id": {"type": "string"},
        "details": {"type": "string", "x-sensitivity": "confidential"},
    },
}
RITA = {"title": "Press 4 hydraulic leak", "asset_id": "P-4", "details": "oil under press 4"}
SAM = {"title": "hydraulic leak on press 4", "asset_id": "P-4", "details": "sam's bench"}


async def _file(api: Api, user: str, data: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    response = await api.http.post(
        "/tickets", json={"definition": "incident", "data": data}, headers=api.auth(user)
    )
    body: dict[str, Any] = response.json()
    return response.status_code, body


async def _events(api: Api, key: str, user: str) -> list[dict[str, Any]]:
    response = await api.http.get(f"/tickets/{key}/events", headers=api.auth(user))
    assert response.status_code == 200, response.text
    events: list[dict[str, Any]] = response.json()
    return events


async def _link(api: Api, key: str) -> dict[str, Any]:
    """The possible-duplicate link on a ticket, as a handler of its desk sees it."""
    for _ in range(200):
        for event in await _events(api, key, "dana"):
            if event["type"] == "possible_duplicate":
                related: dict[str, Any] = event["data"]["related"]
                return related
        await asyncio.sleep(0.05)
    raise AssertionError(f"{key} was never linked")


async def test_a_repeat_of_a_hidden_ticket_is_filed_and_linked_for_handlers(api: Api) -> None:
    await publish_incident(api, triage=TRIAGE, intake_form=FORM)
    status, first = await _file(api, "rita", RITA)
    assert status == 201
    original = first["key"]

    # sam may not see rita's ticket: his report is a ticket of his own, answered like any.
    status, second = await _file(api, "sam", SAM)
    assert (status, second["duplicate_of"]) == (201, None)
    repeat = second["key"]
    assert repeat != original
    assert original not in json.dumps(second)

    # The desk sees each ticket linked to the other.
    link, back = await _link(api, original), await _link(api, repeat)
    assert (link["ticket"], link["relation"]) == (repeat, "repeated_by")
    assert (back["ticket"], back["relation"]) == (original, "repeats")
    assert link["similarity"] == back["similarity"] >= 0.5

    # Neither requester learns of the other's ticket, name or words from their timeline.
    mine = json.dumps(await _events(api, original, "rita"))
    for secret in (repeat, "sam", SAM["details"], SAM["title"]):
        assert secret not in mine
    his = json.dumps(await _events(api, repeat, "sam"))
    for secret in (original, RITA["details"], RITA["title"]):
        assert secret not in his
    assert (await api.http.get(f"/tickets/{original}", headers=api.auth("sam"))).status_code == 404


async def test_a_repeat_is_reported_to_a_ticket_the_filer_may_see(api: Api) -> None:
    await publish_incident(api, triage=TRIAGE, intake_form=FORM)
    status, first = await _file(api, "rita", RITA)
    assert status == 201
    # Her own ticket, and a ticket of the desk's agent's department: both are told.
    again = {**RITA, "title": "Press 4 hydraulic leak again"}
    for user in ("rita", "dana"):
        status, body = await _file(api, user, again)
        assert (status, body["duplicate_of"]) == (200, first["key"])
