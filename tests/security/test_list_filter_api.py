"""A list filter on a field the caller may not read is refused, whatever value it asks for."""

from __future__ import annotations

from tests.api.access_helpers import grant
from tests.api.conftest import Api
from tests.api.helpers import PROBLEM, create_ticket, publish_incident


async def test_filtering_by_a_denied_assignee_is_a_403_not_a_probe(api: Api) -> None:
    await publish_incident(api)
    key = await create_ticket(api, "rita")
    claimed = await api.http.post(f"/tickets/{key}/tasks/triage/claim", headers=api.auth("dana"))
    assert claimed.status_code == 200, claimed.text
    await grant(
        api,
        subject="role:requester",
        domain="*",
        object="ticket.assignee",
        action="read",
        clearance="public",
        effect="deny",
    )
    for probe in ("dana", "nobody"):
        refused = await api.http.get(f"/tickets?assignee={probe}", headers=api.auth("rita"))
        assert refused.status_code == 403
        assert refused.headers["content-type"] == PROBLEM
        assert [e["pointer"] for e in refused.json()["errors"]] == ["query:/assignee"]
        assert key not in refused.text

    both = await api.http.get("/tickets?assignee=dana&department=ops", headers=api.auth("rita"))
    assert [e["pointer"] for e in both.json()["errors"]] == ["query:/assignee"]
    query = "/tickets?status=open&department=service-desk"
    listed = await api.http.get(query, headers=api.auth("rita"))
    assert listed.status_code == 200, listed.text
    assert [t["key"] for t in listed.json()["items"]] == [key]
    desk = await api.http.get("/tickets?assignee=dana", headers=api.auth("dana"))
    assert [t["key"] for t in desk.json()["items"]] == [key]
