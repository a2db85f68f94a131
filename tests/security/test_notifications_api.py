"""Notifications over HTTP: a reader who gets 404 on a ticket hears nothing of it."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.api.access_helpers import grant
from tests.api.conftest import Api
from tests.api.helpers import publish_incident

TITLE = "Payroll export mails salaries to everyone"
SLA: dict[str, Any] = {
    "targets": {"P1": "PT1S"},
    "target": "PT1H",
    "ladder": [
        {
            "name": "due",
            "at_fraction": 1.0,
            "actions": [{"type": "notify", "recipients": ["group:sales", "role:auditor"]}],
        }
    ],
}


async def _notified(api: Api, key: str, user: str) -> list[dict[str, Any]]:
    for _ in range(200):
        response = await api.http.get(f"/notifications?ticket={key}", headers=api.auth(user))
        assert response.status_code == 200, response.text
        found: list[dict[str, Any]] = response.json()
        if found:
            return found
        await asyncio.sleep(0.1)
    raise AssertionError(f"{user} was never notified about {key}")


async def test_a_group_notification_reaches_only_readers_of_the_ticket(api: Api) -> None:
    await publish_incident(api, sla=SLA)
    created = await api.http.post(
        "/tickets",
        json={"definition": "incident", "data": {"title": TITLE}, "priority": "P1"},
        headers=api.auth("rita"),
    )
    assert created.status_code == 201, created.text
    key = created.json()["key"]

    [audit] = await _notified(api, key, "audrey")
    assert audit["subject"] == f"{key}: SLA due reached on the ticket ({TITLE})"
    [mine] = await _notified(api, key, "rita")  # group:sales, and her own ticket
    assert (mine["recipient"], mine["subject"]) == ("group:sales", audit["subject"])

    # sam is in sales too, but rita's ticket is a 404 for him: no notification about it.
    assert (await api.http.get(f"/tickets/{key}", headers=api.auth("sam"))).status_code == 404
    for query in (f"/notifications?ticket={key}", "/notifications"):
        response = await api.http.get(query, headers=api.auth("sam"))
        assert response.status_code == 200
        assert response.json() == []
        assert TITLE not in response.text

    await grant(
        api,
        subject="role:requester",
        domain="*",
        object="ticket.title",
        action="read",
        clearance="public",
        effect="deny",
    )
    [untitled] = await _notified(api, key, "rita")
    assert untitled["subject"] == f"{key}: SLA due reached on the ticket"
    assert TITLE not in str(untitled)
