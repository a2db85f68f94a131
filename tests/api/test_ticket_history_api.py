"""GET /tickets/{key}/history over HTTP: the replayed timeline redacted like /events, the raw
history for auditors and admins only, and the 401, 403 and 404 problems."""

from __future__ import annotations

from typing import Any

from api.workflow_calls import update_id
from tests.api.access_helpers import grant
from tests.api.conftest import Api
from tests.api.helpers import PROBLEM, create_ticket, publish_incident


def without_audit_keys(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in e.items() if k not in ("run_id", "cause")} for e in entries]


async def test_history_is_redacted_like_the_timeline_and_raw_is_gated(api: Api) -> None:
    await publish_incident(api)
    key = await create_ticket(api)
    claimed = await api.http.post(
        f"/tickets/{key}/tasks/triage/claim",
        headers={**api.auth("dana"), "Idempotency-Key": "claim-once"},
    )
    assert claimed.status_code == 200, claimed.text
    noted = await api.http.post(
        f"/tickets/{key}/comments",
        json={"body": "looks like the uplink", "internal": True},
        headers=api.auth("dana"),
    )
    assert noted.status_code == 200, noted.text

    for user in ("audrey", "rita", "dana"):
        history = await api.http.get(f"/tickets/{key}/history", headers=api.auth(user))
        assert history.status_code == 200, history.text
        body = history.json()
        events = await api.http.get(f"/tickets/{key}/events", headers=api.auth(user))
        # The same events, redacted the same way, as the SQL timeline shows this caller.
        assert without_audit_keys(body["entries"]) == events.json()
        assert len(body["runs"]) == 1
        assert {e["run_id"] for e in body["entries"]} == set(body["runs"])

    audited = (await api.http.get(f"/tickets/{key}/history", headers=api.auth("audrey"))).json()
    types = [e["type"] for e in audited["entries"]]
    assert "comment_added" in types
    claim = next(e for e in audited["entries"] if e["type"] == "task_claimed")
    assert claim["actor"] == "dana"
    assert claim["cause"] == {
        "kind": "update",
        "id": update_id(update="claim", user="dana", idempotency_key="claim-once"),
        "name": "claim",
    }
    assert audited["entries"][0]["cause"]["kind"] == "start"
    requester = (await api.http.get(f"/tickets/{key}/history", headers=api.auth("rita"))).json()
    assert "comment_added" not in [e["type"] for e in requester["entries"]]

    raw = await api.http.get(f"/tickets/{key}/history?format=raw", headers=api.auth("audrey"))
    assert raw.status_code == 200, raw.text
    started = raw.json()["runs"][0]["events"][0]["workflowExecutionStartedEventAttributes"]
    assert started["input"][0]["intake"] == {"title": "VPN down"}
    for user in ("rita", "dana"):
        refused = await api.http.get(f"/tickets/{key}/history?format=raw", headers=api.auth(user))
        assert refused.status_code == 403
        assert refused.headers["content-type"] == PROBLEM

    # An auditor denied one field gets the redacted timeline, but not the unredacted raw one.
    rule = {
        "subject": "role:auditor",
        "domain": "*",
        "object": "ticket.title",
        "action": "read",
        "clearance": "public",
        "effect": "deny",
    }
    await grant(api, **rule)
    denied = await api.http.get(f"/tickets/{key}/history?format=raw", headers=api.auth("audrey"))
    assert denied.status_code == 403
    assert "ticket.title" in denied.json()["detail"]
    assert (
        await api.http.get(f"/tickets/{key}/history", headers=api.auth("audrey"))
    ).status_code == 200
    await grant(api, add=False, **rule)


async def test_history_problems(api: Api) -> None:
    await publish_incident(api)
    key = await create_ticket(api)
    unauthenticated = await api.http.get(f"/tickets/{key}/history")
    assert unauthenticated.status_code == 401
    assert unauthenticated.headers["content-type"] == PROBLEM
    # ops has no part in the ticket yet: it is not theirs to see.
    hidden = await api.http.get(f"/tickets/{key}/history", headers=api.auth("otto"))
    assert hidden.status_code == 404
    missing = await api.http.get(
        f"/tickets/{api.prefix}-999999/history", headers=api.auth("audrey")
    )
    assert missing.status_code == 404
    bad = await api.http.get(f"/tickets/{key}/history?format=xml", headers=api.auth("audrey"))
    assert bad.status_code == 422
    assert bad.headers["content-type"] == PROBLEM
