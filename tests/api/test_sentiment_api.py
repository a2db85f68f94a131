"""Sentiment over HTTP: a customer's words taken from a ticket with their consent, the scores
shown only to the cleared, and the expedite proposal decided by the supervisor group."""

from __future__ import annotations

import asyncio
import copy
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from store.models import SentimentRecordRow
from store.users import add_user
from tests.api.conftest import Api
from tests.api.helpers import PROBLEM, publish_incident
from tests.api.test_customers_api import CUSTOMER, add_care_agent, created
from tests.builders import INCIDENT

ANGRY = (
    "MARK-ANGRY Absolutely unacceptable! This is the third time your technician did not show up."
)
FURIOUS = "MARK-FURIOUS 太过分了。你们白白浪费了我三个星期。真丢人。"
CONSENT = {"purpose": "sentiment_analysis", "channel": "app", "text": "May we read your mood?"}


@pytest.fixture
async def ticket(api: Api) -> str:
    """A ticket of a customer who consents, filed by rita with an angry description."""
    await add_care_agent(api)
    async with api.sessions() as session, session.begin():
        _row, api.tokens["sue"] = await add_user(
            session=session,
            name="sue",
            department="care-supervisors",
            role="agent",
            now=datetime.now(UTC),
        )
    # A customer id of its own: the tests share one Temporal server, and a customer's
    # sentiment workflow (its id names the customer) outlives the test that started it.
    customer = f"C-{uuid.uuid4().hex[:8]}"
    api.scratch["customer"] = customer
    await created(api, {**CUSTOMER, "id": customer})
    consent = await api.http.post(
        f"/customers/{customer}/consents", json=CONSENT, headers=api.auth("carla")
    )
    assert consent.status_code == 201, consent.text
    intake = copy.deepcopy(INCIDENT["intake_form"])
    intake["properties"]["customer_id"] = {"type": "string"}
    intake["properties"]["description"] = {"type": "string"}
    await publish_incident(api, intake_form=intake)
    filed = await api.http.post(
        "/tickets",
        json={
            "definition": "incident",
            "data": {"title": "No show", "customer_id": customer, "description": ANGRY},
        },
        headers=api.auth("rita"),
    )
    assert filed.status_code == 201, filed.text
    key: str = filed.json()["key"]
    return key


async def proposals(api: Api, key: str, count: int) -> list[dict[str, Any]]:
    """The ticket's proposals as the admin sees them, once there are `count` (the worker
    scores in real time)."""
    for _ in range(2400):
        shown = await api.http.get(f"/tickets/{key}/expedites", headers=api.auth("root"))
        assert shown.status_code == 200, shown.text
        body: list[dict[str, Any]] = shown.json()
        if len(body) == count:
            return body
        await asyncio.sleep(0.05)
    raise AssertionError("no proposal came")


async def test_the_proposal_is_the_supervisors_to_decide(api: Api, ticket: str) -> None:
    [proposal] = await proposals(api, ticket, 1)
    assert (proposal["id"], proposal["status"], proposal["group"]) == (
        "E1",
        "proposed",
        "care-supervisors",
    )
    assert (proposal["label"], proposal["priority_to"]) == ("angry", "P2")
    # The requester never sees it; a handler of another group sees it but not the score.
    refused = await api.http.get(f"/tickets/{ticket}/expedites", headers=api.auth("rita"))
    assert refused.status_code == 403
    assert refused.headers["content-type"] == PROBLEM
    handler = await api.http.get(f"/tickets/{ticket}/expedites", headers=api.auth("dana"))
    assert handler.status_code == 200
    assert handler.json()[0]["label"] is None
    assert "MARK" not in handler.text
    # Only the supervisor group (or an admin) decides.
    by_dana = await api.http.post(
        f"/tickets/{ticket}/expedites/E1", json={"decision": "confirm"}, headers=api.auth("dana")
    )
    assert by_dana.status_code == 403, by_dana.text
    confirmed = await api.http.post(
        f"/tickets/{ticket}/expedites/E1",
        json={"decision": "confirm", "reason": "calling her now"},
        headers=api.auth("sue"),
    )
    assert confirmed.status_code == 200, confirmed.text
    detail = (await api.http.get(f"/tickets/{ticket}", headers=api.auth("root"))).json()
    assert detail["priority"] == "P2"
    assert [t["group"] for t in detail["tasks"] if t["kind"] == "followup"] == ["care-supervisors"]
    again = await api.http.post(
        f"/tickets/{ticket}/expedites/E1", json={"decision": "decline"}, headers=api.auth("sue")
    )
    assert again.status_code == 409

    # The requester's own comment is the customer's message too: a second proposal, declined.
    said = await api.http.post(
        f"/tickets/{ticket}/comments", json={"body": FURIOUS}, headers=api.auth("rita")
    )
    assert said.status_code == 200, said.text
    second = (await proposals(api, ticket, 2))[1]
    assert second["record"] != proposal["record"]
    declined = await api.http.post(
        f"/tickets/{ticket}/expedites/{second['id']}",
        json={"decision": "decline", "reason": "she called back calm"},
        headers=api.auth("sue"),
    )
    assert declined.status_code == 200, declined.text
    shown = await proposals(api, ticket, 2)
    assert [(p["status"], p["decided_by"]) for p in shown] == [
        ("confirmed", "sue"),
        ("declined", "sue"),
    ]
    detail = (await api.http.get(f"/tickets/{ticket}", headers=api.auth("root"))).json()
    assert detail["priority"] == "P2"
    bad = await api.http.post(
        f"/tickets/{ticket}/expedites/E1", json={"decision": "maybe"}, headers=api.auth("sue")
    )
    assert bad.status_code == 422
    assert bad.headers["content-type"] == PROBLEM


@pytest.mark.parametrize(
    ("user", "status"),
    [("carla", 200), ("root", 200), ("dana", 403), ("otto", 403), ("audrey", 403), ("rita", 403)],
)
async def test_scores_and_texts_reach_only_the_cleared(
    api: Api, ticket: str, user: str, status: int
) -> None:
    await proposals(api, ticket, 1)  # scored by then
    customer = api.scratch["customer"]
    shown = await api.http.get(f"/customers/{customer}/sentiment", headers=api.auth(user))
    assert shown.status_code == status, shown.text
    if status == 200:
        [record] = shown.json()["records"]
        assert record["text"] == ANGRY
        assert (record["label"], record["source"], record["ticket_key"]) == (
            "angry",
            "intake",
            ticket,
        )
    else:
        assert "MARK-ANGRY" not in shown.text
        assert "angry" not in shown.text


async def test_revocation_purges_at_once_over_http(api: Api, ticket: str) -> None:
    await proposals(api, ticket, 1)
    customer = api.scratch["customer"]
    revoked = await api.http.delete(
        f"/customers/{customer}/consents/sentiment_analysis", headers=api.auth("carla")
    )
    assert revoked.status_code == 200, revoked.text
    for _ in range(2400):
        async with api.sessions() as session:
            left = list(await session.scalars(select(SentimentRecordRow)))
        if not left:
            break
        await asyncio.sleep(0.05)
    assert left == []
    shown = (
        await api.http.get(f"/customers/{customer}/sentiment", headers=api.auth("carla"))
    ).json()
    assert shown["records"] == []
    assert [(p["reason"], p["deleted"]) for p in shown["purges"]] == [("revoked", 1)]
    assert "MARK" not in str(shown)
    # The waiting proposal was withdrawn with it; the consent stays on the customer's record.
    [proposal] = await proposals(api, ticket, 1)
    assert (proposal["status"], proposal["label"]) == ("withdrawn", None)
    record = (await api.http.get(f"/customers/{customer}", headers=api.auth("carla"))).json()
    [consent] = record["consents"]
    assert (consent["purpose"], consent["revoked_by"]) == ("sentiment_analysis", "carla")
    # Nothing more is taken.
    said = await api.http.post(
        f"/tickets/{ticket}/comments", json={"body": FURIOUS}, headers=api.auth("rita")
    )
    assert said.status_code == 200
    async with api.sessions() as session:
        assert list(await session.scalars(select(SentimentRecordRow))) == []
