"""Nested sensitivity and typed events over HTTP: the findings as an outside tester saw them."""

from __future__ import annotations

import copy
from typing import Any

from sqlalchemy import func, select

from store.models import TicketRow
from tests.api.access_helpers import grant
from tests.api.conftest import Api
from tests.api.helpers import PROBLEM, incident_document

RESTRICTED = "restricted"
CONFIDENTIAL = "confidential"
INTAKE: dict[str, Any] = {
    "type": "object",
    "required": ["title"],
    "properties": {
        "title": {"type": "string", "x-sensitivity": "public"},
        "contact": {
            "type": "object",
            "properties": {
                "name": {"type": "string"},
                "id_number": {"type": "string", "x-sensitivity": RESTRICTED},
                "phone": {"type": "string", "x-sensitivity": CONFIDENTIAL, "x-maskable": True},
            },
        },
        "devices": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "serial": {"type": "string", "x-sensitivity": CONFIDENTIAL},
                    "secret": {"type": "string", "x-sensitivity": RESTRICTED},
                },
            },
        },
    },
}
# A stage form whose public fields are named like the keys of event payloads: neither may
# open an internal comment's body or a whole stage completion to the requester.
COLLIDING: dict[str, Any] = {
    "type": "object",
    "properties": {
        "body": {"type": "string", "x-sensitivity": "public"},
        "form": {"type": "string", "x-sensitivity": "public"},
        "diagnosis": {"type": "string", "x-sensitivity": CONFIDENTIAL},
    },
}
DATA: dict[str, Any] = {
    "title": "Badge reader broken",
    "contact": {"name": "Rita Roe", "id_number": "ID-RESTRICTED-1", "phone": "13812345678"},
    "devices": [{"serial": "SN-CONFIDENTIAL-1", "secret": "DEV-RESTRICTED-1"}],
}
RESTRICTED_VALUES = ("ID-RESTRICTED-1", "DEV-RESTRICTED-1")
CONFIDENTIAL_VALUES = ("13812345678", "SN-CONFIDENTIAL-1")


async def _publish(api: Api) -> None:
    document = incident_document(key_prefix=api.prefix, intake_form=INTAKE)
    for stage in document["stages"]:
        if stage["key"] == "triage":
            stage["form"] = COLLIDING
    response = await api.http.post("/definitions", json=document, headers=api.auth("owner"))
    assert response.status_code == 201, response.text


async def _file(api: Api, user: str, data: dict[str, Any]) -> Any:
    return await api.http.post(
        "/tickets", json={"definition": "incident", "data": data}, headers=api.auth(user)
    )


async def test_a_requester_may_not_write_a_restricted_nested_field(api: Api) -> None:
    await _publish(api)
    for data, pointer in (
        ({"title": "Badge", "contact": {"id_number": "1101"}}, "/data/contact/id_number"),
        (
            {"title": "Badge", "devices": [{"serial": "s"}, {"secret": "x"}]},
            "/data/devices/1/secret",
        ),
    ):
        refused = await _file(api, "rita", data)
        assert refused.status_code == 403, refused.text
        assert refused.headers["content-type"] == PROBLEM
        assert [e["pointer"] for e in refused.json()["errors"]] == [pointer]
    async with api.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(TicketRow)) == 0
    allowed = {"title": "Badge", "contact": {"phone": "13812345678"}, "devices": [{"serial": "s"}]}
    assert (await _file(api, "rita", allowed)).status_code == 201


async def _ritas_ticket(api: Api) -> str:
    """A ticket rita filed with every nested value (a grant lets her write restricted ones)."""
    await _publish(api)
    everything = {"subject": "@owner", "object": "ticket.*", "action": "write"}
    await grant(api, add=True, **everything, clearance=RESTRICTED)
    created = await _file(api, "rita", copy.deepcopy(DATA))
    assert created.status_code == 201, created.text
    await grant(api, add=False, **everything, clearance=RESTRICTED)
    key: str = created.json()["key"]
    return key


async def test_nested_restricted_and_confidential_values_reach_no_reader(api: Api) -> None:
    key = await _ritas_ticket(api)
    for user in ("monitor", "owner", "audrey", "rita"):
        detail = await api.http.get(f"/tickets/{key}", headers=api.auth(user))
        assert detail.status_code == 200, (user, detail.text)
        exported = await api.http.get("/tickets/export", headers=api.auth(user))
        as_csv = await api.http.get(
            "/tickets/export", params={"format": "csv"}, headers=api.auth(user)
        )
        assert exported.status_code == as_csv.status_code == 200
        denied = RESTRICTED_VALUES if user == "audrey" else RESTRICTED_VALUES + CONFIDENTIAL_VALUES
        for text in (detail.text, exported.text, as_csv.text):
            assert not [v for v in denied if v in text], (user, text)
        assert detail.json()["intake"]["contact"]["name"] == "Rita Roe"
    ritas = (await api.http.get(f"/tickets/{key}", headers=api.auth("rita"))).json()
    assert ritas["intake"]["contact"]["phone"] == "138****5678"
    audreys = await api.http.get(
        "/tickets/export", params={"format": "csv"}, headers=api.auth("audrey")
    )
    header = audreys.text.splitlines()[0].split(",")
    assert "intake.devices[0].serial" in header
    assert "intake.contact.id_number" not in header


async def test_the_requester_sees_no_internal_comment_or_stage_value_named_like_event_keys(
    api: Api,
) -> None:
    key = await _ritas_ticket(api)
    claimed = await api.http.post(f"/tickets/{key}/tasks/triage/claim", headers=api.auth("dana"))
    assert claimed.status_code == 200, claimed.text
    done = await api.http.post(
        f"/tickets/{key}/tasks/triage/complete",
        json={"data": {"body": "b", "form": "f", "diagnosis": "STAGE-DIAGNOSIS-VALUE"}},
        headers=api.auth("dana"),
    )
    assert done.status_code == 200, done.text
    note = await api.http.post(
        f"/tickets/{key}/comments",
        json={"body": "INTERNAL-NOTE-VALUE", "internal": True},
        headers=api.auth("dana"),
    )
    assert note.status_code == 200, note.text
    hidden = ("STAGE-DIAGNOSIS-VALUE", "INTERNAL-NOTE-VALUE", *RESTRICTED_VALUES)
    ritas = await api.http.get(f"/tickets/{key}/events", headers=api.auth("rita"))
    assert ritas.status_code == 200, ritas.text
    assert not [v for v in hidden if v in ritas.text]
    completed = [e for e in ritas.json() if e["type"] == "task_completed"]
    assert [e["data"]["form"] for e in completed] == [{"body": "b", "form": "f"}]
    assert "comment_added" not in {e["type"] for e in ritas.json()}
    danas = await api.http.get(f"/tickets/{key}/events", headers=api.auth("dana"))
    assert "INTERNAL-NOTE-VALUE" in danas.text
    assert "STAGE-DIAGNOSIS-VALUE" in danas.text
    queue = await api.http.get("/tasks", headers=api.auth("dana"))
    assert not [v for v in RESTRICTED_VALUES if v in queue.text]
