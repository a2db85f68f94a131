"""A definition with fields of every sensitivity, and policy changes through the API."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import Api
from tests.api.helpers import incident_document

SENSITIVE_INTAKE: dict[str, Any] = {
    "type": "object",
    "required": ["title"],
    "properties": {
        "title": {"type": "string", "minLength": 3, "x-sensitivity": "public"},
        "notes": {"type": "string"},
        "phone": {"type": "string", "x-sensitivity": "confidential", "x-maskable": True},
        "salary": {"type": "number", "x-sensitivity": "restricted"},
        # The site a ticket's policy domain is decided by (`<department>/<site>`).
        "site": {"type": "string"},
    },
}
ROOT_CAUSE_FORM: dict[str, Any] = {
    "type": "object",
    "required": ["root_cause"],
    "properties": {"root_cause": {"type": "string", "x-sensitivity": "confidential"}},
}


async def publish_sensitive(api: Api) -> None:
    """Publish the incident definition with a sensitive intake and a confidential stage field."""
    document = incident_document(key_prefix=api.prefix, intake_form=SENSITIVE_INTAKE)
    for stage in document["stages"]:
        if stage["key"] == "diagnose":
            stage["form"] = ROOT_CAUSE_FORM
    response = await api.http.post("/definitions", json=document, headers=api.auth("owner"))
    assert response.status_code == 201, response.text


async def file(api: Api, user: str, **data: Any) -> Any:
    """POST an incident with this intake data; returns the response."""
    return await api.http.post(
        "/tickets", json={"definition": "incident", "data": data}, headers=api.auth(user)
    )


async def grant(api: Api, *, add: bool = True, **rule: str) -> dict[str, Any]:
    """Add (or remove) a policy rule as the admin."""
    body = {"reason": "test", **rule}
    response = await api.http.request(
        "POST" if add else "DELETE", "/policies", json=body, headers=api.auth("root")
    )
    assert response.status_code == (201 if add else 200), response.text
    result: dict[str, Any] = response.json()
    return result
