"""The triage answer over HTTP: features of fields a caller may not read never reach them."""

from __future__ import annotations

import asyncio
from typing import Any

from activities.triage import register_run
from tests.api.conftest import Api
from tests.api.helpers import publish_incident
from tests.triage.fixtures import sample_examples
from triage.candidates import BLEND

TRIAGE = {"threshold": 0.99, "dispatcher_group": "service-desk", "routed_stages": ["diagnose"]}
FORM = {
    "type": "object",
    "required": ["title"],
    "properties": {
        "title": {"type": "string"},
        "description": {"type": "string", "x-sensitivity": "confidential"},
        "error_code": {"type": "string", "x-sensitivity": "confidential"},
        "channel": {"type": "string", "x-sensitivity": "public"},
    },
}
# Sources a requester (internal clearance) may not read: the description, the error code.
HIDDEN_PREFIXES = ("word:", "char:", "field:error_code=")


async def _triage(api: Api, key: str, user: str) -> dict[str, Any]:
    for _ in range(200):
        response = await api.http.get(f"/tickets/{key}/triage", headers=api.auth(user))
        if response.status_code == 200:
            body: dict[str, Any] = response.json()
            return body
        assert response.status_code == 404, response.text
        await asyncio.sleep(0.05)
    raise AssertionError(f"{key} was never triaged")


async def test_triage_features_follow_the_fields_they_came_from(api: Api) -> None:
    trained = await register_run(
        sessions=api.sessions,
        data_dir=api.data_dir,
        examples=sample_examples(),
        candidates=(BLEND,),
        current=None,
        note="test",
    )
    assert trained.promoted
    await publish_incident(api, triage=TRIAGE, intake_form=FORM)
    created = await api.http.post(
        "/tickets",
        json={
            "definition": "incident",
            "data": {
                "title": "VPN drops every few minutes",
                "description": "The VPN client disconnects every 5 minutes from home",
                "error_code": "VPN-809",
                "channel": "portal",
            },
        },
        headers=api.auth("rita"),
    )
    assert created.status_code == 201, created.text
    key = created.json()["key"]

    desk = await _triage(api, key, "dana")  # an agent of the owning desk: confidential
    desk_features = [f["feature"] for f in desk["result"]["top_features"]]
    assert any(f.startswith(HIDDEN_PREFIXES) for f in desk_features), desk_features

    mine = await _triage(api, key, "rita")  # the requester reads ticket.triage, not those
    assert mine["result"]["team"] == desk["result"]["team"]
    for feature in mine["result"]["top_features"]:
        assert not feature["feature"].startswith(HIDDEN_PREFIXES), feature
    assert set(f["feature"] for f in mine["result"]["top_features"]) <= set(desk_features)

    for user in ("dana", "owner"):  # the dispatch queue: the owner reads up to internal
        queue = (await api.http.get("/triage/queue", headers=api.auth(user))).json()
        [entry] = [q for q in queue if q["key"] == key]
        shown = [f["feature"] for f in entry["top_features"]]
        hidden = [f for f in shown if f.startswith(HIDDEN_PREFIXES)]
        assert bool(hidden) == (user == "dana"), shown
