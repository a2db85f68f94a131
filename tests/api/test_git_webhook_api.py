"""The git webhook over HTTP: GitHub- and GitLab-signed pushes attach commits to the open tickets
their messages name; forged or missing signatures are 401 and signal nothing."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import uuid
from typing import Any

import httpx
import pytest
from temporalio.api.enums.v1 import EventType

from tests.api.conftest import Api
from tests.api.helpers import PROBLEM

SECRET = "webhook-secret-for-tests-0123456789"
WITH_SECRET = pytest.mark.parametrize(
    "api_settings", [{"git_webhook_secret": SECRET}], indirect=True
)
SHA = "9f1c2ab" + "0" * 33
OTHER = "1" * 40
URL = "/integrations/git/webhook"


def definition(prefix: str) -> dict[str, Any]:
    """Dev fixes (handing over the fix's commit), then the desk verifies."""
    return {
        "key": "fix-flow",
        "title": "Fix",
        "key_prefix": prefix,
        "department": "service-desk",
        "intake_form": {"type": "object", "properties": {"title": {"type": "string"}}},
        "stages": [
            {
                "key": "fix",
                "title": "Fix",
                "group": "dev",
                "deliverables": [{"key": "commit", "kind": "git_commit"}],
            },
            {"key": "verify", "title": "Verify", "group": "service-desk", "depends_on": ["fix"]},
        ],
    }


async def tickets(api: Api, count: int) -> list[str]:
    """Publish the flow and file `count` tickets as Rita."""
    published = await api.http.post(
        "/definitions", json=definition(api.prefix), headers=api.auth("owner")
    )
    assert published.status_code == 201, published.text
    keys = []
    for n in range(count):
        filed = await api.http.post(
            "/tickets",
            json={"definition": "fix-flow", "data": {"title": f"uplink drops {n}"}},
            headers=api.auth("rita"),
        )
        assert filed.status_code == 201, filed.text
        keys.append(filed.json()["key"])
    return keys


def github_push(message: str, sha: str = SHA) -> bytes:
    payload = {
        "ref": "refs/heads/main",
        "repository": {"full_name": "ops/lb", "html_url": "https://github.test/ops/lb"},
        "pusher": {"name": "root", "email": "root@example.com"},
        "commits": [
            {
                "id": sha,
                "message": message,
                "url": f"https://github.test/ops/lb/commit/{sha}",
                "author": {"name": "Devi", "email": "devi@example.com", "username": "devi"},
            }
        ],
    }
    return json.dumps(payload).encode()


def gitlab_push(message: str, sha: str = OTHER) -> bytes:
    payload = {
        "object_kind": "push",
        "project": {"path_with_namespace": "ops/lb", "web_url": "https://gitlab.test/ops/lb"},
        "commits": [
            {
                "id": sha,
                "message": message,
                "url": f"https://gitlab.test/ops/lb/-/commit/{sha}",
                "author": {"name": "Devi", "email": "devi@example.com"},
            }
        ],
    }
    return json.dumps(payload).encode()


def github_headers(body: bytes, delivery: str, secret: str = SECRET) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {
        "Content-Type": "application/json",
        "X-GitHub-Event": "push",
        "X-GitHub-Delivery": delivery,
        "X-Hub-Signature-256": f"sha256={digest}",
    }


def gitlab_headers(delivery: str, token: str = SECRET) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "X-Gitlab-Event": "Push Hook",
        "X-Gitlab-Event-UUID": delivery,
        "X-Gitlab-Token": token,
    }


async def deliver(api: Api, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return await api.http.post(URL, content=body, headers=headers)


async def versions(api: Api, key: str) -> list[dict[str, Any]]:
    listed = await api.http.get(
        f"/tickets/{key}/deliverables/fix/commit/versions", headers=api.auth("devi")
    )
    assert listed.status_code == 200, listed.text
    items: list[dict[str, Any]] = listed.json()["items"]
    return items


async def attached(api: Api, key: str, count: int) -> list[dict[str, Any]]:
    """The commit's versions once `count` are projected (a signal is handled after its 202)."""
    for _ in range(200):
        found = await versions(api, key)
        if len(found) >= count:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"{key} never had {count} commit version(s)")


async def signals_received(api: Api, key: str) -> int:
    history = await api.env.client.get_workflow_handle(key).fetch_history()
    signalled = EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED
    return sum(1 for e in history.events if e.event_type == signalled)


@WITH_SECRET
async def test_a_github_push_attaches_the_commit_once_and_counts_ignored_keys(api: Api) -> None:
    key, cancelled = await tickets(api, 2)
    cancel = await api.http.post(
        f"/tickets/{cancelled}/cancel", json={"reason": "filed twice"}, headers=api.auth("dana")
    )
    assert cancel.status_code == 200, cancel.text
    unknown = f"{api.prefix}-999999"
    body = github_push(f"{key}: restore the health check path\n\nAlso {cancelled}, {unknown}")
    delivery = str(uuid.uuid4())
    answer = await deliver(api, body, github_headers(body, delivery))
    assert answer.status_code == 202, answer.text
    assert answer.json() == {
        "provider": "github",
        "event": "push",
        "delivery": delivery,
        "commits": 1,
        "signalled": [{"ticket": key, "sha": SHA}],
        "ignored_keys": 2,
    }
    [version] = await attached(api, key, 1)
    assert (version["value"], version["author"], version["version"]) == (SHA, "git", 1)
    assert await signals_received(api, cancelled) == 0

    # The git server delivers again (it did not see the answer): nothing is attached twice.
    again = await deliver(api, body, github_headers(body, delivery))
    assert again.status_code == 202, again.text
    assert await signals_received(api, key) == 2
    # A comment after the redelivery: once it is in, the redelivery was handled before it.
    commented = await api.http.post(
        f"/tickets/{key}/comments", json={"body": "checked"}, headers=api.auth("devi")
    )
    assert commented.status_code == 200, commented.text
    assert len(await versions(api, key)) == 1
    events = await api.http.get(f"/tickets/{key}/events", headers=api.auth("devi"))
    types = [e["type"] for e in events.json()]
    assert types.count("deliverable_attached") == 1
    assert "commit_referenced" not in types
    shown = next(e for e in events.json() if e["type"] == "deliverable_attached")
    assert shown["actor"] == "git"
    assert shown["data"]["attached"]["commit"]["commit"]["repository"] == "ops/lb"

    # The stage's contract is met by the pushed commit: dev completes it.
    for step in ("claim", "complete"):
        done = await api.http.post(
            f"/tickets/{key}/tasks/fix/{step}",
            **({"json": {"data": {}}} if step == "complete" else {}),
            headers=api.auth("devi"),
        )
        assert done.status_code == 200, done.text


@WITH_SECRET
async def test_a_gitlab_push_is_authenticated_by_its_token(api: Api) -> None:
    [key] = await tickets(api, 1)
    body = gitlab_push(f"Fix {key}")
    answer = await deliver(api, body, gitlab_headers("gl-1"))
    assert answer.status_code == 202, answer.text
    assert answer.json()["provider"] == "gitlab"
    assert answer.json()["signalled"] == [{"ticket": key, "sha": OTHER}]
    [version] = await attached(api, key, 1)
    assert version["value"] == OTHER


@WITH_SECRET
async def test_forged_or_missing_signatures_are_401_and_signal_nothing(api: Api) -> None:
    [key] = await tickets(api, 1)
    body = github_push(f"{key}: a forged fix")
    signed = github_headers(body, "d-1")
    refused = [
        await deliver(api, body, github_headers(body, "d-1", secret="another-secret-0123456789")),
        await deliver(api, body + b" ", signed),  # the body changed after signing
        await deliver(api, body, {k: v for k, v in signed.items() if "Signature" not in k}),
        await deliver(api, body, gitlab_headers("gl-1", token="a-guessed-token-0123")),
        await deliver(api, b"{not json", {**signed, "X-Hub-Signature-256": "sha256=00"}),
    ]
    for response in refused:
        assert response.status_code == 401, response.text
        assert response.headers["content-type"].startswith(PROBLEM)
    assert await signals_received(api, key) == 0
    assert await versions(api, key) == []


@WITH_SECRET
async def test_a_signed_delivery_that_is_no_push_is_refused_or_acknowledged(api: Api) -> None:
    ping = json.dumps({"zen": "Keep it logically awesome.", "hook_id": 1}).encode()
    acknowledged = await deliver(
        api, ping, {**github_headers(ping, "p-1"), "X-GitHub-Event": "ping"}
    )
    assert acknowledged.status_code == 202, acknowledged.text
    assert (acknowledged.json()["event"], acknowledged.json()["signalled"]) == ("ping", [])

    not_a_push = json.dumps({"repository": {"full_name": "ops/lb"}, "commits": [{"id": "x"}]})
    invalid = await deliver(api, not_a_push.encode(), github_headers(not_a_push.encode(), "p-2"))
    assert invalid.status_code == 422, invalid.text
    assert [e["pointer"] for e in invalid.json()["errors"]] == ["/commits/0/id"]

    nul = github_push("IT-000001 \u0000")
    refused = await deliver(api, nul, github_headers(nul, "p-3"))
    assert refused.status_code == 422, refused.text

    body = github_push("no key")
    headers = {k: v for k, v in github_headers(body, "p-4").items() if k != "X-GitHub-Delivery"}
    undelivered = await deliver(api, body, headers)
    assert undelivered.status_code == 422
    assert undelivered.json()["errors"][0]["pointer"] == "header:/X-GitHub-Delivery"

    too_big = github_push("x" * 70_000)
    assert (await deliver(api, too_big, github_headers(too_big, "p-5"))).status_code == 413


async def test_without_a_secret_every_delivery_is_refused(api: Api) -> None:
    body = github_push("IT-000001")
    refused = await deliver(api, body, github_headers(body, "d-1"))
    assert refused.status_code == 403, refused.text
    assert "TICKETFLOW_GIT_WEBHOOK_SECRET" in refused.json()["detail"]
