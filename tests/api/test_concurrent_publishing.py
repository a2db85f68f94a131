"""Concurrent publishes of one key over HTTP: each gets the next version, none is a 500."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.api.conftest import Api
from tests.api.helpers import incident_document
from tests.api.test_sla_api import OFFICE

PUBLISHES = 10


async def _publish_concurrently(
    api: Api, path: str, bodies: list[dict[str, Any]], *, user: str = "owner"
) -> list[int]:
    responses = await asyncio.gather(
        *(api.http.post(path, json=body, headers=api.auth(user)) for body in bodies)
    )
    assert [r.status_code for r in responses] == [201] * len(bodies), [r.text for r in responses]
    return sorted(r.json()["version"] for r in responses)


async def test_concurrent_publishes_of_one_form_key_get_versions_1_to_10(api: Api) -> None:
    bodies = [
        {
            "key": "contact",
            "title": f"Contact {n}",
            "schema": {"type": "object", "properties": {f"field_{n}": {"type": "string"}}},
        }
        for n in range(PUBLISHES)
    ]
    versions = await _publish_concurrently(api, "/forms", bodies)
    assert versions == list(range(1, PUBLISHES + 1))
    listed = (await api.http.get("/forms", headers=api.auth("owner"))).json()
    assert sorted(f["version"] for f in listed if f["key"] == "contact") == versions


async def test_concurrent_publishes_of_one_calendar_key_get_versions_1_to_10(api: Api) -> None:
    bodies = [
        {**OFFICE, "title": f"Office {n}", "hours": {"mon": [f"0{n}:00-18:00"]}}
        for n in range(PUBLISHES)
    ]
    versions = await _publish_concurrently(api, "/calendars", bodies)
    assert versions == list(range(1, PUBLISHES + 1))


async def test_concurrent_publishes_of_one_definition_key_get_versions_1_to_10(api: Api) -> None:
    bodies = [incident_document(title=f"Incident {n}") for n in range(PUBLISHES)]
    # An admin may publish any key's next version, so only the version numbers contend.
    versions = await _publish_concurrently(api, "/definitions", bodies, user="root")
    assert versions == list(range(1, PUBLISHES + 1))
