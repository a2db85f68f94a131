"""A ticket's life over HTTP: create, parallel stages, resolve, close; and every refusal."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from domain.messages import StartTicketInput
from domain.sla import DEFAULT_PRIORITY
from domain.ticket import Actor
from services.ticket_creation import filing_memo, request_fingerprint
from store.models import TicketRow
from tests.api.conftest import Api
from tests.api.helpers import PROBLEM, create_ticket, publish_incident, work
from tests.builders import REQUESTER, incident
from workflows.ticket import TicketWorkflow


async def test_parallel_departments_take_a_ticket_to_closed(api: Api) -> None:
    await publish_incident(api)
    key = await create_ticket(api)
    assert key == f"{api.prefix}-000001"

    await work(api, key, "triage", "dana")
    ops_queue = await api.http.get("/tasks", headers=api.auth("otto"))
    dev_queue = await api.http.get("/tasks", headers=api.auth("devi"))
    assert [t["stage_key"] for t in ops_queue.json()["items"]] == ["diagnose"]
    assert [t["stage_key"] for t in dev_queue.json()["items"]] == ["fix"]

    await work(api, key, "fix", "devi")
    await work(api, key, "diagnose", "otto")
    await work(api, key, "verify", "dana")
    detail = (await api.http.get(f"/tickets/{key}", headers=api.auth("rita"))).json()
    assert detail["status"] == "resolved"
    assert {t["stage_key"]: t["completed_by"] for t in detail["tasks"]} == {
        "triage": "dana",
        "diagnose": "otto",
        "fix": "devi",
        "verify": "dana",
    }

    confirmed = await api.http.post(
        f"/tickets/{key}/confirm", json={"comment": "thanks"}, headers=api.auth("rita")
    )
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["status"] == "closed"

    events = (await api.http.get(f"/tickets/{key}/events", headers=api.auth("audrey"))).json()
    types = [e["type"] for e in events]
    assert types[0] == "created"
    assert types[-2:] == ["resolved", "closed"]
    assert types.count("task_completed") == 4
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    completed = [e for e in events if e["type"] == "task_completed"]
    assert {e["data"]["stage"] for e in completed[1:3]} == {"diagnose", "fix"}

    result = await api.env.client.get_workflow_handle(key).result()
    assert result["status"] == "closed"


async def test_intake_errors_list_every_field_and_write_nothing(api: Api) -> None:
    await publish_incident(api)
    response = await api.http.post(
        "/tickets",
        json={"definition": "incident", "data": {"title": "x", "email": "not-an-email"}},
        headers=api.auth("rita"),
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    assert {e["pointer"] for e in response.json()["errors"]} == {"/data/title", "/data/email"}

    unknown = await api.http.post(
        "/tickets", json={"definition": "nope", "data": {}}, headers=api.auth("rita")
    )
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["pointer"] == "/definition"

    extra = await api.http.post(
        "/tickets", json={"definition": "incident", "dta": {}}, headers=api.auth("rita")
    )
    assert extra.status_code == 422
    assert {e["pointer"] for e in extra.json()["errors"]} == {"/dta"}

    async with api.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(TicketRow)) == 0
    # The first valid ticket still gets number 1: refused requests consumed nothing.
    assert await create_ticket(api) == f"{api.prefix}-000001"


async def test_nan_and_infinity_are_refused_not_rewritten(api: Api) -> None:
    await publish_incident(api)
    for constant in ("NaN", "Infinity", "-Infinity"):
        raw = '{"definition": "incident", "data": {"title": "abcd", "x": [VALUE]}}'.replace(
            "VALUE", constant
        )
        response = await api.http.post(
            "/tickets",
            content=raw,
            headers={**api.auth("rita"), "Content-Type": "application/json"},
        )
        assert response.status_code == 422, constant
        assert response.json()["errors"][0]["pointer"] == "/data/x/0"
    definition = await api.http.post(
        "/definitions",
        content='{"key": NaN}',
        headers={**api.auth("owner"), "Content-Type": "application/json"},
    )
    assert definition.status_code == 422
    assert [e["pointer"] for e in definition.json()["errors"]] == ["/key"]


async def test_idempotency_key_returns_the_same_ticket(api: Api) -> None:
    await publish_incident(api)
    headers = {**api.auth("rita"), "Idempotency-Key": "order-42"}
    body = {"definition": "incident", "data": {"title": "Printer jam"}}
    first = await api.http.post("/tickets", json=body, headers=headers)
    again = await api.http.post("/tickets", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json()["key"] == again.json()["key"]
    assert again.headers["Idempotent-Replayed"] == "true"

    changed = await api.http.post(
        "/tickets", json={**body, "data": {"title": "Other"}}, headers=headers
    )
    assert changed.status_code == 422
    listed = (await api.http.get("/tickets", headers=api.auth("rita"))).json()
    assert [t["key"] for t in listed["items"]] == [first.json()["key"]]
    # Another caller's identical key is theirs, not a replay of rita's.
    sams = await api.http.post(
        "/tickets", json=body, headers={**api.auth("sam"), "Idempotency-Key": "order-42"}
    )
    assert sams.json()["key"] != first.json()["key"]


async def test_concurrent_creates_with_one_idempotency_key_make_one_ticket(api: Api) -> None:
    await publish_incident(api)
    headers = {**api.auth("rita"), "Idempotency-Key": "burst-1"}
    body = {"definition": "incident", "data": {"title": "Double click"}}
    responses = await asyncio.gather(
        *(api.http.post("/tickets", json=body, headers=headers) for _ in range(4))
    )
    assert {r.status_code for r in responses} == {201}
    assert len({r.json()["key"] for r in responses}) == 1
    listed = (await api.http.get("/tickets", headers=api.auth("rita"))).json()
    assert len(listed["items"]) == 1


async def test_a_key_that_already_names_a_workflow_is_skipped(api: Api) -> None:
    # As after an app-database reset: Temporal still holds a ticket under the next key.
    await publish_incident(api)
    taken = f"{api.prefix}-000001"
    await api.env.client.start_workflow(
        TicketWorkflow.run,
        StartTicketInput(key=taken, definition=incident(), requester=REQUESTER),
        id=taken,
        task_queue="nobody-serves-this",
    )
    headers = {**api.auth("rita"), "Idempotency-Key": "after-reset"}
    body = {"definition": "incident", "data": {"title": "After the reset"}}
    created = await api.http.post("/tickets", json=body, headers=headers)
    assert created.status_code == 201, created.text
    assert created.json()["key"] == f"{api.prefix}-000002"
    replayed = await api.http.post("/tickets", json=body, headers=headers)
    assert replayed.json()["key"] == f"{api.prefix}-000002"


async def test_a_key_started_first_by_a_retry_of_the_same_request_is_not_skipped(
    api: Api,
) -> None:
    # The race: a retry finds the Idempotency-Key record and starts the workflow before the
    # first request gets to. The first request must adopt that ticket, not file a second.
    await publish_incident(api)
    data = {"title": "Raced"}
    definition = incident(key_prefix=api.prefix)
    rita = Actor(user="rita", department="sales", role="requester")
    taken = f"{api.prefix}-000001"
    await api.env.client.start_workflow(
        TicketWorkflow.run,
        StartTicketInput(key=taken, definition=definition, intake=data, requester=rita),
        id=taken,
        task_queue=api.task_queue,
        memo=filing_memo(
            user="rita",
            idempotency_key="raced",
            fingerprint=request_fingerprint(
                definition=definition, data=data, priority=DEFAULT_PRIORITY
            ),
        ),
    )
    headers = {**api.auth("rita"), "Idempotency-Key": "raced"}
    body = {"definition": "incident", "data": data}
    created = await api.http.post("/tickets", json=body, headers=headers)
    assert created.status_code == 201, created.text
    assert created.json()["key"] == taken
    listed = (await api.http.get("/tickets", headers=api.auth("rita"))).json()
    assert [t["key"] for t in listed["items"]] == [taken]


async def test_task_refusals_map_to_statuses_and_leave_no_history(api: Api) -> None:
    await publish_incident(api)
    key = await create_ticket(api)
    await api.http.post(f"/tickets/{key}/tasks/triage/claim", headers=api.auth("dana"))
    handle = api.env.client.get_workflow_handle(key)
    before = len((await handle.fetch_history()).events)

    someone_elses = await api.http.post(
        f"/tickets/{key}/tasks/triage/complete", json={"data": {}}, headers=api.auth("dora")
    )
    assert someone_elses.status_code == 409
    assert "claimed by dana" in someone_elses.json()["detail"]
    # Ops' only task (diagnose) has not opened yet: ops does not handle the ticket, not even
    # to see it.
    not_handling = await api.http.post(
        f"/tickets/{key}/tasks/triage/unclaim", headers=api.auth("otto")
    )
    assert not_handling.status_code == 404
    not_ready = await api.http.post(f"/tickets/{key}/tasks/verify/claim", headers=api.auth("dana"))
    assert not_ready.status_code == 409
    foreign_group = await api.http.post(f"/tickets/{key}/tasks/fix/claim", headers=api.auth("dana"))
    assert foreign_group.status_code == 403
    no_stage = await api.http.post(f"/tickets/{key}/tasks/nope/claim", headers=api.auth("dana"))
    assert no_stage.status_code == 404
    # On the dev server a rejected Update's validator runs in a speculative task: no trace.
    assert len((await handle.fetch_history()).events) == before

    await work(api, key, "triage", "dana")
    await api.http.post(f"/tickets/{key}/tasks/fix/claim", headers=api.auth("devi"))
    invalid = await api.http.post(
        f"/tickets/{key}/tasks/fix/complete",
        json={"data": {"commit": "not a sha", "extra": 1}},
        headers=api.auth("devi"),
    )
    assert invalid.status_code == 422
    assert invalid.json()["errors"][0]["pointer"] == "/data/commit"
    missing = await api.http.post(
        f"/tickets/{key}/tasks/fix/complete", json={"data": {}}, headers=api.auth("devi")
    )
    assert [e["pointer"] for e in missing.json()["errors"]] == ["/data/commit"]
    assert "required" in missing.json()["errors"][0]["detail"]


async def test_retried_idempotency_key_changes_once(api: Api) -> None:
    await publish_incident(api)
    key = await create_ticket(api)
    headers = {**api.auth("dana"), "Idempotency-Key": "comment-7", "X-Request-ID": "trace-1"}
    first = await api.http.post(f"/tickets/{key}/comments", json={"body": "on it"}, headers=headers)
    again = await api.http.post(f"/tickets/{key}/comments", json={"body": "on it"}, headers=headers)
    assert first.json() == again.json()
    assert again.headers["X-Request-ID"] == "trace-1"  # echoed for tracing only
    events = (await api.http.get(f"/tickets/{key}/events", headers=api.auth("dana"))).json()
    assert [e["type"] for e in events].count("comment_added") == 1


async def test_list_filters_and_cursor_pagination(api: Api) -> None:
    await publish_incident(api)
    keys = [await create_ticket(api, title=f"Issue {i}") for i in range(5)]
    await work(api, keys[0], "triage", "dana")
    await api.http.post(f"/tickets/{keys[0]}/tasks/fix/claim", headers=api.auth("devi"))
    await api.http.post(
        f"/tickets/{keys[1]}/cancel", json={"reason": "duplicate"}, headers=api.auth("rita")
    )

    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await api.http.get("/tickets", params=params, headers=api.auth("dana"))).json()
        seen += [t["key"] for t in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(keys))

    def keys_of(response_json: dict[str, list[dict[str, str]]]) -> list[str]:
        return [t["key"] for t in response_json["items"]]

    async def query(**params: str) -> list[str]:
        response = await api.http.get("/tickets", params=params, headers=api.auth("dana"))
        assert response.status_code == 200, response.text
        return keys_of(response.json())

    assert await query(status="cancelled") == [keys[1]]
    assert await query(assignee="devi") == [keys[0]]
    assert await query(department="dev") == [keys[0]]
    assert await query(definition="incident", status="open") == [
        k for k in reversed(keys) if k != keys[1]
    ]
    bad = await api.http.get("/tickets", params={"cursor": "garbage"}, headers=api.auth("dana"))
    assert bad.status_code == 422
    bad_status = await api.http.get("/tickets", params={"status": "lost"}, headers=api.auth("dana"))
    assert bad_status.status_code == 422
    assert bad_status.json()["errors"][0]["pointer"] == "query:/status"


async def test_requesters_see_only_their_own_tickets(api: Api) -> None:
    await publish_incident(api)
    ritas = await create_ticket(api, user="rita")
    sams = await create_ticket(api, user="sam")
    listed = (await api.http.get("/tickets", headers=api.auth("rita"))).json()
    assert [t["key"] for t in listed["items"]] == [ritas]
    hidden = await api.http.get(f"/tickets/{sams}", headers=api.auth("rita"))
    assert hidden.status_code == 404
    everyone = (await api.http.get("/tickets", headers=api.auth("audrey"))).json()
    assert {t["key"] for t in everyone["items"]} == {ritas, sams}


async def test_cancel_reopen_and_signals(api: Api) -> None:
    await publish_incident(api)
    key = await create_ticket(api)
    signalled = await api.http.post(
        f"/tickets/{key}/signals/customer_reply",
        json={"payload": {"text": "any news?"}},
        headers=api.auth("monitor"),
    )
    assert signalled.status_code == 202
    refused = await api.http.post(
        f"/tickets/{key}/signals/customer_reply", json={}, headers=api.auth("rita")
    )
    assert refused.status_code == 403
    unknown = await api.http.post(
        f"/tickets/{key}/signals/reboot", json={}, headers=api.auth("monitor")
    )
    assert unknown.status_code == 404

    for stage, user in (
        ("triage", "dana"),
        ("diagnose", "otto"),
        ("fix", "devi"),
        ("verify", "dana"),
    ):
        await work(api, key, stage, user)
    reopened = await api.http.post(
        f"/tickets/{key}/reopen", json={"reason": "still down"}, headers=api.auth("rita")
    )
    assert reopened.json()["status"] == "open"
    queue = (await api.http.get("/tasks", headers=api.auth("dana"))).json()["items"]
    assert [(t["stage_key"], t["round"]) for t in queue] == [("verify", 2)]

    cancelled = await api.http.post(
        f"/tickets/{key}/cancel", json={"reason": "moved to vendor"}, headers=api.auth("dana")
    )
    assert cancelled.json()["status"] == "cancelled"
    after = await api.http.post(
        f"/tickets/{key}/comments", json={"body": "late"}, headers=api.auth("dana")
    )
    assert after.status_code == 409
    events = (await api.http.get(f"/tickets/{key}/events", headers=api.auth("dana"))).json()
    external = [e for e in events if e["type"] == "external_event"]
    assert external[0]["actor"] == "monitor"
    assert external[0]["data"]["name"] == "customer_reply"


async def test_auditors_read_but_change_nothing(api: Api) -> None:
    await publish_incident(api)
    key = await create_ticket(api)
    assert (await api.http.get(f"/tickets/{key}", headers=api.auth("audrey"))).status_code == 200
    for path, body in (
        (f"/tickets/{key}/comments", {"body": "hi"}),
        (f"/tickets/{key}/cancel", {"reason": "audit"}),
    ):
        response = await api.http.post(path, json=body, headers=api.auth("audrey"))
        assert response.status_code == 403, path
    assert (
        await api.http.post(
            "/tickets",
            json={"definition": "incident", "data": {"title": "audit"}},
            headers=api.auth("audrey"),
        )
    ).status_code == 403
    claim = await api.http.post(f"/tickets/{key}/tasks/triage/claim", headers=api.auth("audrey"))
    assert claim.status_code == 403
    # Another requester cannot even see the ticket, let alone cancel it.
    sams = await api.http.post(
        f"/tickets/{key}/cancel", json={"reason": "x"}, headers=api.auth("sam")
    )
    assert sams.status_code == 404


async def test_authentication_and_unknown_ids(api: Api) -> None:
    missing = await api.http.get("/tickets")
    assert missing.status_code == 401
    assert missing.headers["content-type"] == PROBLEM
    assert missing.headers["www-authenticate"] == "Bearer"
    wrong = await api.http.get("/tickets", headers={"Authorization": "Bearer tf_forged"})
    assert wrong.status_code == 401
    assert (await api.http.get("/tickets/IT-999999", headers=api.auth("dana"))).status_code == 404
    events = await api.http.get("/tickets/IT-999999/events", headers=api.auth("dana"))
    assert events.status_code == 404
    claim = await api.http.post("/tickets/IT-999999/tasks/a/claim", headers=api.auth("dana"))
    assert claim.status_code == 404
    assert claim.headers["content-type"] == PROBLEM


async def test_oversized_bodies_are_refused(api: Api) -> None:
    await publish_incident(api)
    huge = {"definition": "incident", "data": {"title": "x" * 100_000}}
    response = await api.http.post("/tickets", json=huge, headers=api.auth("rita"))
    assert response.status_code == 413
    assert response.headers["content-type"] == PROBLEM

    async def chunks():  # type: ignore[no-untyped-def]
        for _ in range(100):
            yield b"x" * 1000

    streamed = await api.http.post(
        "/definitions",
        content=chunks(),
        headers={**api.auth("owner"), "Content-Type": "application/yaml"},
    )
    assert streamed.status_code == 413
    assert streamed.headers["content-type"] == PROBLEM


async def test_nul_characters_are_refused_with_their_location_and_nothing_is_filed(
    api: Api,
) -> None:
    await publish_incident(api)
    listed = await api.http.get("/tasks", params={"group": "\x00"}, headers=api.auth("dana"))
    assert listed.status_code == 422
    assert listed.headers["content-type"] == PROBLEM
    assert listed.json()["errors"][0]["pointer"] == "query:/group"
    body = {"definition": "incident", "data": {"title": "bad\x00title", "ok": "fine"}}
    filed = await api.http.post("/tickets", json=body, headers=api.auth("rita"))
    assert filed.status_code == 422
    assert [e["pointer"] for e in filed.json()["errors"]] == ["/data/title"]
    mine = await api.http.get("/tickets", headers=api.auth("rita"))
    assert mine.json()["items"] == []
    escaped = await api.http.post(
        "/tickets",
        content=b'{"definition": "incident", "data": {"title": "a\\\\u0000"}}',
        headers={**api.auth("rita"), "Content-Type": "application/json"},
    )
    # An escaped backslash before "u0000" is just text, not a NUL.
    assert escaped.status_code == 201, escaped.text
    detail = await api.http.get(f"/tickets/{escaped.json()['key']}", headers=api.auth("rita"))
    assert detail.json()["intake"]["title"] == "a\\u0000"
