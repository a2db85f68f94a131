"""Over HTTP: a form no one could fill is refused at publish; undeclared fields at filing."""

from __future__ import annotations

from tests.api.conftest import Api
from tests.api.helpers import PROBLEM, create_ticket, incident_document, publish_incident, work


async def test_a_definition_whose_forms_cannot_be_filled_is_refused_with_every_pointer(
    api: Api,
) -> None:
    document = incident_document(key_prefix=api.prefix)
    document["intake_form"] = {
        "type": "object",
        "required": ["title", "asset"],
        "properties": {
            "title": {"type": "string", "minLength": 3, "maxLength": 2},
            "floor": {"type": "integer", "minimum": 1, "maximum": 0},
        },
    }
    document["stages"][1]["form"]["properties"]["root_cause"]["enum"] = ["cable", 7]
    response = await api.http.post("/definitions", json=document, headers=api.auth("owner"))
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
    assert [e["pointer"] for e in response.json()["errors"]] == [
        "/intake_form/properties/floor/minimum",
        "/intake_form/properties/title/minLength",
        "/intake_form/required/1",
        "/stages/1/form/properties/root_cause/enum/1",
    ]
    assert (await api.http.get("/definitions", headers=api.auth("owner"))).json() == []


async def test_undeclared_fields_are_refused_at_filing_and_at_completion(api: Api) -> None:
    await publish_incident(api)
    filed = await api.http.post(
        "/tickets",
        json={"definition": "incident", "data": {"title": "VPN down", "colour": "red"}},
        headers=api.auth("rita"),
    )
    assert filed.status_code == 422, filed.text
    assert [(e["pointer"], e["detail"]) for e in filed.json()["errors"]] == [
        ("/data/colour", "this field is not allowed here")
    ]
    assert (await api.http.get("/tickets", headers=api.auth("rita"))).json()["items"] == []

    key = await create_ticket(api)
    await work(api, key, "triage", "dana")
    claimed = await api.http.post(f"/tickets/{key}/tasks/diagnose/claim", headers=api.auth("otto"))
    assert claimed.status_code == 200, claimed.text
    done = await api.http.post(
        f"/tickets/{key}/tasks/diagnose/complete",
        json={"data": {"root_cause": "cable", "rootcause": "typo"}},
        headers=api.auth("otto"),
    )
    assert done.status_code == 422, done.text
    assert [e["pointer"] for e in done.json()["errors"]] == ["/data/rootcause"]
