"""State-changing requests over HTTP: Update ids, write checks, reassignment, handlers."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import func, select

from store.models import IdempotencyRow, KeySequenceRow, TicketRow
from tests.api.access_helpers import grant, publish_sensitive
from tests.api.conftest import Api
from tests.api.helpers import PROBLEM, create_ticket, publish_incident, work


async def _events(api: Api, key: str, type_: str) -> list[dict[str, Any]]:
    events = (await api.http.get(f"/tickets/{key}/events", headers=api.auth("root"))).json()
    return [e for e in events if e["type"] == type_]


async def _history_length(api: Api, key: str) -> int:
    handle = api.env.client.get_workflow_handle(key)
    return len((await handle.fetch_history()).events)


# -- Update ids -------------------------------------------------------------------------


async def test_a_shared_key_never_hands_one_caller_another_callers_outcome(api: Api) -> None:
    await publish_incident(api)
    key = await create_ticket(api, user="rita")
    await work(api, key, "triage", "dana")
    shared = {"Idempotency-Key": "k-1", "X-Request-ID": "k-1"}
    await api.http.post(f"/tickets/{key}/tasks/diagnose/claim", headers=api.auth("root"))
    admin = await api.http.post(
        f"/tickets/{key}/tasks/diagnose/complete",
        json={"data": {"root_cause": "admin-only detail"}},
        headers={**api.auth("root"), **shared},
    )
    assert admin.status_code == 200, admin.text
    comment = await api.http.post(
        f"/tickets/{key}/comments",
        json={"body": "any news?"},
        headers={**api.auth("rita"), **shared},
    )
    assert comment.status_code == 200, comment.text
    assert "admin-only detail" not in comment.text
    assert comment.json()["task"] is None
    assert [e["data"]["body"] for e in await _events(api, key, "comment_added")] == ["any news?"]


async def test_long_request_ids_and_keys_never_collide(api: Api) -> None:
    await publish_incident(api)
    key = await create_ticket(api)
    for n in (1, 2):
        traced = {**api.auth("dana"), "X-Request-ID": "r" * 128 + str(n)}
        sent = await api.http.post(f"/tickets/{key}/comments", json={"body": "x"}, headers=traced)
        assert sent.status_code == 200, sent.text
    for n in (1, 2):
        keyed = {**api.auth("dana"), "Idempotency-Key": "k" * 199 + str(n)}
        sent = await api.http.post(f"/tickets/{key}/comments", json={"body": "x"}, headers=keyed)
        assert sent.status_code == 200, sent.text
    assert len(await _events(api, key, "comment_added")) == 4


async def test_idempotency_keys_too_long_or_empty_are_problems(api: Api) -> None:
    await publish_incident(api)
    key = await create_ticket(api)
    before = await _history_length(api, key)
    for bad in ("k" * 201, ""):
        headers = {**api.auth("dana"), "Idempotency-Key": bad}
        refused = await api.http.post(
            f"/tickets/{key}/comments", json={"body": "x"}, headers=headers
        )
        assert refused.status_code == 422, refused.text
        assert refused.headers["content-type"] == PROBLEM
        assert [e["pointer"] for e in refused.json()["errors"]] == ["header:/Idempotency-Key"]
        filing = await api.http.post(
            "/tickets",
            json={"definition": "incident", "data": {"title": "VPN down"}},
            headers={**api.auth("rita"), "Idempotency-Key": bad},
        )
        assert filing.status_code == 422, filing.text
    assert await _history_length(api, key) == before
    assert await _events(api, key, "comment_added") == []


async def test_a_key_reused_with_another_body_is_refused_and_changes_nothing(api: Api) -> None:
    await publish_incident(api)
    key = await create_ticket(api)
    headers = {**api.auth("dana"), "Idempotency-Key": "note-1"}
    first = await api.http.post(f"/tickets/{key}/comments", json={"body": "a"}, headers=headers)
    retry = await api.http.post(f"/tickets/{key}/comments", json={"body": "a"}, headers=headers)
    assert first.status_code == retry.status_code == 200
    assert first.json() == retry.json()
    other = await api.http.post(f"/tickets/{key}/comments", json={"body": "b"}, headers=headers)
    assert other.status_code == 422, other.text
    assert other.json()["detail"] == "this Idempotency-Key was used with a different request"
    # The same key from another caller is another request altogether.
    dora = {**api.auth("dora"), "Idempotency-Key": "note-1"}
    assert (
        await api.http.post(f"/tickets/{key}/comments", json={"body": "b"}, headers=dora)
    ).status_code == 200
    # Without a key, every request is new.
    for _ in range(2):
        plain = await api.http.post(
            f"/tickets/{key}/comments", json={"body": "a"}, headers=api.auth("dana")
        )
        assert plain.status_code == 200
    bodies = [e["data"]["body"] for e in await _events(api, key, "comment_added")]
    assert bodies == ["a", "b", "a", "a"]


async def _wait_for_events(api: Api, key: str, type_: str, count: int) -> list[dict[str, Any]]:
    for _ in range(100):
        found = await _events(api, key, type_)
        if len(found) >= count:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"{key} never had {count} {type_} events")


async def test_a_retried_signal_is_recorded_once(api: Api) -> None:
    await publish_incident(api)
    key = await create_ticket(api)
    path = f"/tickets/{key}/signals/external_update"
    headers = {**api.auth("monitor"), "Idempotency-Key": "evt-1"}
    body = {"payload": {"status": "degraded"}}
    for _ in range(2):
        sent = await api.http.post(path, json=body, headers=headers)
        assert sent.status_code == 202, sent.text
    await _wait_for_events(api, key, "external_event", 1)
    again = await api.http.post(path, json=body, headers=headers)
    assert again.status_code == 202
    assert again.headers["Idempotent-Replayed"] == "true"
    other = await api.http.post(path, json={"payload": {"status": "ok"}}, headers=headers)
    assert other.status_code == 422, other.text
    # Without a key each signal is its own event.
    for _ in range(2):
        plain = await api.http.post(path, json=body, headers=api.auth("monitor"))
        assert plain.status_code == 202
    events = await _wait_for_events(api, key, "external_event", 3)
    assert [e["data"]["payload"] for e in events] == [{"status": "degraded"}] * 3


async def test_change_responses_are_redacted_like_reads(api: Api) -> None:
    await publish_sensitive(api)
    await grant(
        api,
        subject="role:agent",
        domain="*",
        object="ticket.root_cause",
        action="read",
        clearance="public",
        effect="deny",
    )
    created = await api.http.post(
        "/tickets",
        json={"definition": "incident", "data": {"title": "Payroll"}},
        headers=api.auth("rita"),
    )
    key = created.json()["key"]
    await work(api, key, "triage", "dana")
    await api.http.post(f"/tickets/{key}/tasks/diagnose/claim", headers=api.auth("otto"))
    done = await api.http.post(
        f"/tickets/{key}/tasks/diagnose/complete",
        json={"data": {"root_cause": "written, not readable"}},
        headers=api.auth("otto"),
    )
    assert done.status_code == 200, done.text
    assert done.json()["task"]["status"] == "done"
    assert "root_cause" not in done.json()["task"]["data"]
    detail = await api.http.get(f"/tickets/{key}", headers=api.auth("otto"))
    [diagnose] = [t for t in detail.json()["tasks"] if t["stage_key"] == "diagnose"]
    assert diagnose["data"] == done.json()["task"]["data"]


# -- Every written field goes through the write check ------------------------------------


async def test_a_priority_given_at_creation_needs_the_priority_write(api: Api) -> None:
    await publish_incident(api)
    await grant(
        api,
        subject="role:requester",
        domain="*",
        object="ticket.priority",
        action="write",
        clearance="public",
        effect="deny",
    )
    body = {"definition": "incident", "data": {"title": "VPN down"}, "priority": "P1"}
    headers = {**api.auth("rita"), "Idempotency-Key": "urgent"}
    refused = await api.http.post("/tickets", json=body, headers=headers)
    assert refused.status_code == 403, refused.text
    assert refused.headers["content-type"] == PROBLEM
    assert [e["pointer"] for e in refused.json()["errors"]] == ["/priority"]
    async with api.sessions() as session:
        for table in (TicketRow, IdempotencyRow, KeySequenceRow):
            assert await session.scalar(select(func.count()).select_from(table)) == 0, table
    # Without a priority the default applies, and nothing is written by the caller.
    plain = {"definition": "incident", "data": {"title": "VPN down"}}
    created = await api.http.post("/tickets", json=plain, headers=api.auth("rita"))
    assert created.status_code == 201, created.text
    detail = await api.http.get(f"/tickets/{created.json()['key']}", headers=api.auth("root"))
    assert detail.json()["priority"] == "P3"


async def test_updates_write_only_the_fields_the_policy_lets_them(api: Api) -> None:
    await publish_incident(api)
    key = await create_ticket(api, user="rita")
    for stage, user in (("triage", "dana"), ("diagnose", "otto"), ("fix", "devi")):
        await work(api, key, stage, user)
    await work(api, key, "verify", "dana")
    await grant(
        api,
        subject="role:requester",
        domain="*",
        object="ticket.comments",
        action="write",
        clearance="public",
        effect="deny",
    )
    before = await _history_length(api, key)
    # A confirmation that carries a comment writes a comment.
    confirm = await api.http.post(
        f"/tickets/{key}/confirm", json={"comment": "works"}, headers=api.auth("rita")
    )
    assert confirm.status_code == 403, confirm.text
    assert [e["pointer"] for e in confirm.json()["errors"]] == ["/comments"]
    await grant(
        api,
        subject="role:agent",
        domain="*",
        object="ticket.tasks",
        action="write",
        clearance="public",
        effect="deny",
    )
    reopen = await api.http.post(
        f"/tickets/{key}/reopen", json={"reason": "again"}, headers=api.auth("dana")
    )
    assert reopen.status_code == 403, reopen.text
    assert [e["pointer"] for e in reopen.json()["errors"]] == ["/tasks"]
    assert await _history_length(api, key) == before
    confirmed = await api.http.post(f"/tickets/{key}/confirm", json={}, headers=api.auth("rita"))
    assert confirmed.status_code == 200, confirmed.text


# -- Reassignment ------------------------------------------------------------------------


async def test_reassigning_to_an_unknown_user_is_refused(api: Api) -> None:
    await publish_incident(api)
    key = await create_ticket(api)
    before = await _history_length(api, key)
    refused = await api.http.post(
        f"/tickets/{key}/tasks/triage/reassign",
        json={"to_user": "ghost", "reason": "typo"},
        headers=api.auth("dana"),
    )
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"] == PROBLEM
    assert [e["pointer"] for e in refused.json()["errors"]] == ["/to_user"]
    # A known user outside the task's group could not work it either.
    outsider = await api.http.post(
        f"/tickets/{key}/tasks/triage/reassign",
        json={"to_user": "otto", "reason": "wrong desk"},
        headers=api.auth("dana"),
    )
    assert outsider.status_code == 422, outsider.text
    assert [e["pointer"] for e in outsider.json()["errors"]] == ["/to_user"]
    assert await _history_length(api, key) == before
    handed = await api.http.post(
        f"/tickets/{key}/tasks/triage/reassign",
        json={"to_user": "dora", "reason": "she knows"},
        headers=api.auth("dana"),
    )
    assert handed.status_code == 200, handed.text
    assert handed.json()["task"]["assignee"] == "dora"
    # A group may exist before its users: moving the task to it is accepted.
    moved = await api.http.post(
        f"/tickets/{key}/tasks/triage/reassign",
        json={"to_group": "new-team", "reason": "reorganised"},
        headers=api.auth("dora"),
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["task"]["group"] == "new-team"
    assert moved.json()["task"]["assignee"] is None


# -- Handler departments -----------------------------------------------------------------


async def test_a_department_with_only_a_future_stage_cannot_touch_the_ticket(api: Api) -> None:
    await publish_incident(api)
    key = await create_ticket(api, user="rita")
    # ops' diagnose stage waits for the triage: ops does not handle the ticket yet.
    before = await _history_length(api, key)
    otto = api.auth("otto")
    changes = [
        ("/cancel", {"reason": "mine now"}),
        ("/priority", {"priority": "P1", "reason": "x"}),
        ("/pause", {"reason": "customer"}),
        ("/comments", {"body": "hello"}),
    ]
    for path, body in changes:
        refused = await api.http.post(f"/tickets/{key}{path}", json=body, headers=otto)
        assert refused.status_code == 404, (path, refused.text)
    assert (await api.http.get(f"/tickets/{key}", headers=otto)).status_code == 404
    listed = await api.http.get("/tickets", headers=otto)
    assert listed.json()["items"] == []
    assert await _history_length(api, key) == before
    # Once the triage is done, diagnose opens and ops handles the ticket.
    await work(api, key, "triage", "dana")
    assert (await api.http.get(f"/tickets/{key}", headers=otto)).status_code == 200
    paused = await api.http.post(f"/tickets/{key}/pause", json={"reason": "customer"}, headers=otto)
    assert paused.status_code == 200, paused.text
