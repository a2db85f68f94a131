"""Filing a ticket that names its device: an unregistered device is refused, nothing written."""

from __future__ import annotations

from sqlalchemy import func, select

from store.models import TicketRow
from tests.api.conftest import Api
from tests.api.helpers import PROBLEM, publish_incident
from tests.api.test_devices_api import MODBUS

INTAKE_FORM = {
    "type": "object",
    "required": ["title"],
    "properties": {
        "title": {"type": "string", "minLength": 4},
        "device_id": {"type": "string", "maxLength": 100},
    },
}


async def test_an_unregistered_device_is_refused_with_every_other_problem(api: Api) -> None:
    await publish_incident(api, intake_form=INTAKE_FORM)
    refused = await api.http.post(
        "/tickets",
        json={"definition": "incident", "data": {"title": "x", "device_id": "nowhere"}},
        headers=api.auth("rita"),
    )
    assert refused.status_code == 422
    assert refused.headers["content-type"] == PROBLEM
    errors = {e["pointer"]: e["detail"] for e in refused.json()["errors"]}
    assert set(errors) == {"/data/title", "/data/device_id"}
    assert errors["/data/device_id"] == (
        "no registered device 'nowhere': register it first (POST /devices)"
    )
    # A value the form refuses is one problem, not a second one about the registry.
    mistyped = await api.http.post(
        "/tickets",
        json={"definition": "incident", "data": {"title": "abcd", "device_id": 7}},
        headers=api.auth("rita"),
    )
    assert mistyped.status_code == 422
    assert [e["pointer"] for e in mistyped.json()["errors"]] == ["/data/device_id"]
    async with api.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(TicketRow)) == 0

    registered = await api.http.post("/devices", json=MODBUS, headers=api.auth("root"))
    assert registered.status_code == 201, registered.text
    filed = await api.http.post(
        "/tickets",
        json={"definition": "incident", "data": {"title": "abcd", "device_id": MODBUS["id"]}},
        headers=api.auth("rita"),
    )
    assert filed.status_code == 201, filed.text
    # The refused requests took no number.
    assert filed.json()["key"] == f"{api.prefix}-000001"
