"""The feedback link over HTTP: a closed ticket is rated once, bad tokens record nothing and
are limited per client, and the rating shows on the ticket as far as the caller may read it."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import select

from api.app import create_app
from services.feedback_tokens import feedback_token
from store.models import FeedbackRow, SentimentPurgeRow, SentimentRecordRow
from tests.api.conftest import Api
from tests.api.helpers import PROBLEM
from tests.api.test_customers_api import CUSTOMER, add_care_agent, created
from ticketflow.settings import Settings

KEY = "feedback-test-signing-key-0123456789"
SIGNED = Settings(signing_key=SecretStr(KEY))
pytestmark = pytest.mark.parametrize("api_settings", [{"signing_key": KEY}], indirect=True)
COMMIT = "0123456789abcdef" * 2 + "01234567"


def definition(prefix: str) -> dict[str, Any]:
    """Triage at the service desk, then ops fix it and hand over a commit and their findings."""
    return {
        "key": "repair-flow",
        "title": "Repair",
        "key_prefix": prefix,
        "department": "service-desk",
        "intake_form": {
            "type": "object",
            "properties": {"title": {"type": "string"}, "customer_id": {"type": "string"}},
        },
        "stages": [
            {"key": "triage", "title": "Triage", "group": "service-desk"},
            {
                "key": "fix",
                "title": "Fix",
                "group": "ops",
                "depends_on": ["triage"],
                "deliverables": [
                    {"key": "commit", "kind": "git_commit"},
                    {
                        "key": "findings",
                        "kind": "record",
                        "schema": {"type": "object"},
                        "sensitivity": "confidential",
                    },
                ],
            },
        ],
    }


async def _ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code in (200, 201), response.text
    body: dict[str, Any] = response.json()
    return body


async def file(api: Api, customer_id: str | None = None) -> str:
    """A ticket filed by Rita (for the customer, if given) and triaged; its fix stage is open."""
    if "published" not in api.scratch:
        await _ok(
            await api.http.post(
                "/definitions", json=definition(api.prefix), headers=api.auth("owner")
            )
        )
        api.scratch["published"] = "yes"
    filed = await _ok(
        await api.http.post(
            "/tickets",
            json={
                "definition": "repair-flow",
                "data": {"title": "fan noise"}
                | ({} if customer_id is None else {"customer_id": customer_id}),
            },
            headers=api.auth("rita"),
        )
    )
    key: str = filed["key"]
    triage = f"/tickets/{key}/tasks/triage"
    await _ok(await api.http.post(f"{triage}/claim", headers=api.auth("dana")))
    await _ok(await api.http.post(f"{triage}/complete", json={}, headers=api.auth("dana")))
    return key


async def closed(api: Api, customer_id: str | None = None) -> str:
    """A ticket fixed by Otto with both deliverables, confirmed by Rita: closed."""
    key = await file(api, customer_id)
    fix = f"/tickets/{key}/tasks/fix"
    await _ok(await api.http.post(f"{fix}/claim", headers=api.auth("otto")))
    base = f"/tickets/{key}/deliverables/fix"
    for name, value in (("commit", COMMIT), ("findings", {"cause": "worn bearing"})):
        await _ok(
            await api.http.post(
                f"{base}/{name}/value", json={"value": value}, headers=api.auth("otto")
            )
        )
    await _ok(await api.http.post(f"{fix}/complete", json={}, headers=api.auth("otto")))
    confirmed = await _ok(await api.http.post(f"/tickets/{key}/confirm", headers=api.auth("rita")))
    assert confirmed["status"] == "closed"
    return key


def token(key: str) -> str:
    """The ticket's feedback token, as the app signs it."""
    return feedback_token(settings=SIGNED, ticket_key=key)


async def rows(api: Api) -> list[FeedbackRow]:
    """Every stored rating."""
    async with api.sessions() as session:
        return list((await session.scalars(select(FeedbackRow))).all())


async def test_a_closed_ticket_is_rated_once_bound_to_its_solution(api: Api) -> None:
    key = await closed(api)
    answer = {"csat": 4, "nps": 9, "comment": "Quick fix, thanks to Otto"}
    given = await api.http.post(f"/feedback/{token(key)}", json=answer)
    assert given.status_code == 201, given.text
    assert {k: given.json()[k] for k in ("csat", "nps")} == {"csat": 4, "nps": 9}
    assert set(given.json()) == {"csat", "nps", "given_at"}

    again = await api.http.post(f"/feedback/{token(key)}", json={"csat": 1, "nps": 0})
    assert again.status_code == 404
    assert again.headers["content-type"] == PROBLEM
    [row] = await rows(api)
    assert (row.ticket_key, row.csat, row.nps, row.comment) == (key, 4, 9, answer["comment"])
    assert (row.stage, row.team, row.playbook) == ("fix", "ops", None)
    versions = await api.http.get(
        f"/tickets/{key}/deliverables/fix/commit/versions", headers=api.auth("otto")
    )
    assert row.deliverables["commit"] == {
        "version": 1,
        "sha256": versions.json()["items"][0]["sha256"],
    }
    assert set(row.deliverables) == {"commit", "findings"}


async def test_a_retry_with_its_idempotency_key_gets_the_first_answer(api: Api) -> None:
    key = await closed(api)
    headers = {"Idempotency-Key": "form-submit-1"}
    first = await api.http.post(
        f"/feedback/{token(key)}", json={"csat": 5, "nps": 10}, headers=headers
    )
    retry = await api.http.post(
        f"/feedback/{token(key)}", json={"csat": 5, "nps": 10}, headers=headers
    )
    assert (first.status_code, retry.status_code) == (201, 201)
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert retry.json() == first.json()
    changed = await api.http.post(
        f"/feedback/{token(key)}", json={"csat": 1, "nps": 10}, headers=headers
    )
    assert changed.status_code == 422
    assert changed.json()["errors"][0]["pointer"] == "header:/Idempotency-Key"
    assert [(r.csat, r.nps) for r in await rows(api)] == [(5, 10)]


async def test_bad_tokens_are_one_and_the_same_404_and_record_nothing(api: Api) -> None:
    key = await closed(api)
    still_open = await file(api)
    good = token(key)
    encoded, mac = good.split(".")
    foreign = feedback_token(settings=Settings(signing_key=SecretStr("x" * 32)), ticket_key=key)
    bad = {
        "forged": f"{encoded}.{'A' * len(mac)}",
        "altered": good[:-1] + ("A" if good[-1] != "A" else "B"),
        "another ticket's mac": f"{encoded}.{token(still_open).split('.')[1]}",
        "foreign signing key": foreign,
        "malformed": "not-a-token",
        "undecodable": "%%%.abc",
        "no such ticket": token(f"{api.prefix}-999999"),
        "open ticket": token(still_open),
    }
    details = set()
    for case, bad_token in bad.items():
        refused = await api.http.post(f"/feedback/{bad_token}", json={"csat": 5, "nps": 10})
        assert refused.status_code == 404, case
        assert refused.headers["content-type"] == PROBLEM, case
        details.add((refused.json()["title"], refused.json()["detail"]))
    assert len(details) == 1  # which case it was is not told
    assert await rows(api) == []
    # Nothing was spent: the real token still rates its ticket.
    assert (await api.http.post(f"/feedback/{good}", json={"csat": 3, "nps": 7})).status_code == 201


async def test_scores_out_of_range_are_422_with_pointers_and_record_nothing(api: Api) -> None:
    key = await closed(api)
    cases = [
        ({"csat": 0, "nps": 5}, {"/csat"}),
        ({"csat": 6, "nps": 5}, {"/csat"}),
        ({"csat": 3, "nps": -1}, {"/nps"}),
        ({"csat": 3, "nps": 11}, {"/nps"}),
        ({"csat": 9, "nps": 99}, {"/csat", "/nps"}),
        ({"csat": 3.5, "nps": 5}, {"/csat"}),
        ({"nps": 5}, {"/csat"}),
        ({"csat": 3, "nps": 5, "comment": "x" * 2001}, {"/comment"}),
        ({"csat": 3, "nps": 5, "stars": 5}, {"/stars"}),
    ]
    for body, pointers in cases:
        refused = await api.http.post(f"/feedback/{token(key)}", json=body)
        assert refused.status_code == 422, body
        assert refused.headers["content-type"] == PROBLEM
        assert {e["pointer"] for e in refused.json()["errors"]} == pointers, body
    assert await rows(api) == []
    ok = await api.http.post(
        f"/feedback/{token(key)}", json={"csat": 1, "nps": 0, "comment": "x" * 2000}
    )
    assert ok.status_code == 201, ok.text


async def test_two_posts_of_one_token_at_once_record_one_rating(api: Api) -> None:
    key = await closed(api)
    answers = [{"csat": 5, "nps": 10}, {"csat": 1, "nps": 0}]
    responses = await asyncio.gather(
        *(api.http.post(f"/feedback/{token(key)}", json=a) for a in answers)
    )
    assert sorted(r.status_code for r in responses) == [201, 404]
    [won] = [a for a, r in zip(answers, responses, strict=True) if r.status_code == 201]
    assert [(r.csat, r.nps) for r in await rows(api)] == [(won["csat"], won["nps"])]


@asynccontextmanager
async def _client(app: FastAPI, address: str) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://limited.test") as client:
        yield client


async def test_a_client_sending_bad_tokens_is_refused_for_a_while(api: Api) -> None:
    first, second, third = [await closed(api) for _ in range(3)]
    settings = Settings(
        database_url="sqlite://",
        task_queue=api.task_queue,
        signing_key=SecretStr(KEY),
        feedback_failure_limit="3/minute",
    )
    app = create_app(settings, temporal=api.env.client, sessions=api.sessions)
    answer = {"csat": 4, "nps": 8}
    async with (
        app.router.lifespan_context(app),
        _client(app, "10.0.0.1") as guesser,
        _client(app, "10.0.0.2") as neighbour,
    ):
        # A rating recorded does not count towards the limit.
        assert (await guesser.post(f"/feedback/{token(first)}", json=answer)).status_code == 201
        for n in range(3):
            guess = await guesser.post(f"/feedback/{token(first)[:-3]}ab{n}", json=answer)
            assert guess.status_code == 404
        for attempt in (f"{token(first)[:-3]}zzz", token(second)):  # even a good one
            limited = await guesser.post(f"/feedback/{attempt}", json=answer)
            assert limited.status_code == 429, limited.text
            assert limited.headers["content-type"] == PROBLEM
            assert 1 <= int(limited.headers["Retry-After"]) <= 60
        # The limit is per client, and a bearer token's limit is another one.
        assert (await neighbour.post(f"/feedback/{token(third)}", json=answer)).status_code == 201
        assert (await guesser.get("/tickets", headers=api.auth("rita"))).status_code == 200
    assert {r.ticket_key for r in await rows(api)} == {first, third}


async def _detail(api: Api, key: str, user: str) -> dict[str, Any]:
    return await _ok(await api.http.get(f"/tickets/{key}", headers=api.auth(user)))


async def test_the_rating_shows_on_the_ticket_as_far_as_the_caller_may_read_it(api: Api) -> None:
    key = await closed(api)
    assert "feedback" not in await _detail(api, key, "otto")  # not rated yet
    comment = "The engineer was kind; call me on 138 0000 5678"
    given = await api.http.post(
        f"/feedback/{token(key)}", json={"csat": 2, "nps": 6, "comment": comment}
    )
    assert given.status_code == 201
    commit_sha = (await rows(api))[0].deliverables["commit"]["sha256"]
    findings_sha = (await rows(api))[0].deliverables["findings"]["sha256"]

    # Ops handled the fix and the auditor reads up to confidential: all of it.
    for user in ("otto", "audrey"):
        shown = (await _detail(api, key, user))["feedback"]
        assert shown["comment"] == comment, user
        assert (shown["csat"], shown["nps"]) == (2, 6)
        assert shown["solution"] == {
            "stage": "fix",
            "team": "ops",
            "deliverables": {
                "commit": {"version": 1, "sha256": commit_sha},
                "findings": {"version": 1, "sha256": findings_sha},
            },
            "playbook": None,
        }
    # The requester and process owners read internal fields: the scores and the solution, not
    # the customer's words nor the confidential deliverable.
    for user in ("rita", "owner"):
        shown = (await _detail(api, key, user))["feedback"]
        assert "comment" not in shown, user
        assert (shown["csat"], shown["nps"]) == (2, 6)
        assert shown["solution"]["deliverables"] == {"commit": {"version": 1, "sha256": commit_sha}}
        assert comment not in str(await _detail(api, key, user))
    # An agent of a department that never handled it does not see the ticket at all.
    assert (await api.http.get(f"/tickets/{key}", headers=api.auth("devi"))).status_code == 404
    # The evidence chain carries the rating as the ticket does.
    full = await _ok(await api.http.get(f"/tickets/{key}/trace", headers=api.auth("audrey")))
    (rated,) = full["data"]["rating"]
    assert (rated["csat"], rated["nps"], rated["comment"]) == (2, 6, comment)
    assert rated["solution"]["deliverables"]["commit"]["sha256"] == commit_sha
    own = await _ok(await api.http.get(f"/tickets/{key}/trace", headers=api.auth("rita")))
    (seen,) = own["data"]["rating"]
    assert (seen["csat"], "comment" in seen) == (2, False)
    assert comment not in str(own)

    # A rule denying the rating takes all of it away, scores included.
    denied = await api.http.post(
        "/policies",
        json={
            "subject": "role:requester",
            "object": "ticket.feedback",
            "action": "read",
            "clearance": "public",
            "effect": "deny",
            "reason": "ratings are for the service team",
        },
        headers=api.auth("root"),
    )
    assert denied.status_code == 201, denied.text
    assert "feedback" not in await _detail(api, key, "rita")
    assert "feedback" in await _detail(api, key, "owner")
    own = await _ok(await api.http.get(f"/tickets/{key}/trace", headers=api.auth("rita")))
    assert "rating" not in own["data"]


async def test_kpis_report_the_ratings_by_team_definition_and_month(api: Api) -> None:
    ratings = [(5, 9), (3, 6)]
    for csat, nps in ratings:
        key = await closed(api)
        given = await api.http.post(f"/feedback/{token(key)}", json={"csat": csat, "nps": nps})
        assert given.status_code == 201
    report = await _ok(await api.http.get("/kpis", headers=api.auth("owner")))
    feedback = report["feedback"]
    assert feedback["overall"]["csat"] == {"count": 2, "mean": 4.0, "satisfied_pct": 50.0}
    assert feedback["overall"]["nps"] == {
        "count": 2,
        "score": 0.0,
        "promoters": 1,
        "passives": 0,
        "detractors": 1,
    }
    assert [row["team"] for row in feedback["by_team"]] == ["ops"]
    assert [row["definition"] for row in feedback["by_definition"]] == ["repair-flow"]
    assert len(feedback["by_period"]) == 1
    other = await _ok(await api.http.get("/kpis?definition=incident", headers=api.auth("owner")))
    assert other["feedback"]["overall"]["csat"]["count"] == 0
    assert (await api.http.get("/kpis", headers=api.auth("rita"))).status_code == 403


async def test_the_link_needs_no_account_and_documents_its_answers(api: Api) -> None:
    operation = (await api.http.get("/openapi.json")).json()["paths"]["/feedback/{token}"]["post"]
    assert "security" not in operation
    assert set(operation["responses"]) >= {"201", "4XX"}


SENTIMENT = {"purpose": "sentiment_analysis", "channel": "app", "text": "May we read your mood?"}
UPSET = "MARK-FB Absolutely unacceptable, the fan is as loud as before and nobody calls back."


async def customer(api: Api, consents: bool) -> str:
    """A customer of their own (their sentiment workflow outlives the test on the shared server)."""
    await add_care_agent(api)
    customer_id = f"C-{uuid.uuid4().hex[:8]}"
    await created(api, {**CUSTOMER, "id": customer_id})
    if consents:
        given = await api.http.post(
            f"/customers/{customer_id}/consents", json=SENTIMENT, headers=api.auth("carla")
        )
        assert given.status_code == 201, given.text
    return customer_id


async def sentiment_rows(api: Api) -> list[SentimentRecordRow | SentimentPurgeRow]:
    """Every sentiment record and purge stored."""
    async with api.sessions() as session:
        records = list(await session.scalars(select(SentimentRecordRow)))
        purges = list(await session.scalars(select(SentimentPurgeRow)))
    return [*records, *purges]


async def scored_record(api: Api) -> SentimentRecordRow:
    """The one sentiment record, once the worker (in real time) has scored it."""
    for _ in range(2400):
        async with api.sessions() as session:
            records = list(await session.scalars(select(SentimentRecordRow)))
        if records and records[0].scored_at is not None:
            return records[0]
        await asyncio.sleep(0.05)
    raise AssertionError("the comment was never scored")


async def test_the_comment_of_a_consenting_customer_is_scored_until_revoked(api: Api) -> None:
    customer_id = await customer(api, consents=True)
    key = await closed(api, customer_id)
    given = await api.http.post(
        f"/feedback/{token(key)}", json={"csat": 1, "nps": 0, "comment": UPSET}
    )
    assert given.status_code == 201, given.text
    record = await scored_record(api)
    assert (record.customer_id, record.ticket_key, record.source) == (customer_id, key, "feedback")
    assert (record.text, record.label) == (UPSET, "angry")
    revoked = await api.http.delete(
        f"/customers/{customer_id}/consents/sentiment_analysis", headers=api.auth("carla")
    )
    assert revoked.status_code == 200, revoked.text
    for _ in range(2400):
        left = await sentiment_rows(api)
        if not any(isinstance(r, SentimentRecordRow) for r in left):
            break
        await asyncio.sleep(0.05)
    [purge] = left
    assert isinstance(purge, SentimentPurgeRow)
    assert (purge.reason, purge.deleted, purge.records["ids"]) == ("revoked", 1, [record.id])
    assert [r.comment for r in await rows(api)] == [UPSET]  # the rating itself stays


async def test_the_comment_of_a_customer_without_consent_is_not_kept_for_sentiment(
    api: Api,
) -> None:
    customer_id = await customer(api, consents=False)
    key = await closed(api, customer_id)
    given = await api.http.post(
        f"/feedback/{token(key)}", json={"csat": 1, "nps": 0, "comment": UPSET}
    )
    assert given.status_code == 201, given.text
    assert await sentiment_rows(api) == []
    assert [r.comment for r in await rows(api)] == [UPSET]
