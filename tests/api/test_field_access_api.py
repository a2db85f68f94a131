"""Field-level access over HTTP: redaction at every exit, write rejection, policy changes."""

from __future__ import annotations

import csv
import io
from typing import Any

import httpx
from sqlalchemy import func, select

from api.app import create_app
from store.models import TicketRow
from tests.api.access_helpers import SENSITIVE_INTAKE, file, grant, publish_sensitive
from tests.api.conftest import Api
from tests.api.helpers import PROBLEM, incident_document, work
from ticketflow.settings import Settings

FULL = {"title": "Payroll", "notes": "n1", "phone": "13812345678", "salary": 9000}


async def test_writes_naming_unwritable_fields_are_refused_whole(api: Api) -> None:
    await publish_sensitive(api)
    refused = await file(api, "rita", **FULL)
    assert refused.status_code == 403
    assert refused.headers["content-type"] == PROBLEM
    # A requester may give their own phone (confidential) but not a restricted field.
    assert [e["pointer"] for e in refused.json()["errors"]] == ["/data/salary"]
    agent = await file(api, "dana", **FULL)
    assert agent.status_code == 403
    assert [e["pointer"] for e in agent.json()["errors"]] == ["/data/salary"]
    async with api.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(TicketRow)) == 0
    assert (await file(api, "rita", title="Payroll", notes="n1")).status_code == 201


async def test_each_caller_sees_only_the_fields_the_policy_grants(api: Api) -> None:
    await publish_sensitive(api)
    created = await file(api, "root", **FULL)
    assert created.status_code == 201, created.text
    key = created.json()["key"]

    def intake(user_detail: httpx.Response) -> dict[str, object]:
        assert user_detail.status_code == 200, user_detail.text
        value: dict[str, object] = user_detail.json()["intake"]
        return value

    root = await api.http.get(f"/tickets/{key}", headers=api.auth("root"))
    assert intake(root) == FULL
    audrey = await api.http.get(f"/tickets/{key}", headers=api.auth("audrey"))
    assert intake(audrey) == {"title": "Payroll", "notes": "n1", "phone": "13812345678"}
    # ops handles the ticket once its diagnose task opens (after triage): up to confidential.
    assert (await api.http.get(f"/tickets/{key}", headers=api.auth("otto"))).status_code == 404
    await work(api, key, "triage", "dana")
    otto = await api.http.get(f"/tickets/{key}", headers=api.auth("otto"))
    assert "salary" not in intake(otto)
    assert (await api.http.get(f"/tickets/{key}", headers=api.auth("rita"))).status_code == 404

    export = await api.http.get(
        "/tickets/export", params={"format": "csv"}, headers=api.auth("audrey")
    )
    assert export.status_code == 200, export.text
    [row] = list(csv.DictReader(io.StringIO(export.text)))
    assert row["intake.phone"] == "13812345678"
    assert "intake.salary" not in row
    exported = await api.http.get("/tickets/export", headers=api.auth("root"))
    assert exported.json()[0]["intake"]["salary"] == 9000


async def test_maskable_fields_are_masked_and_events_redacted(api: Api) -> None:
    await publish_sensitive(api)
    await grant(
        api,
        subject="@owner",
        domain="*",
        object="ticket.phone",
        action="write",
        clearance="confidential",
    )
    created = await file(api, "rita", title="Call me", phone="13812345678")
    assert created.status_code == 201, created.text
    key = created.json()["key"]
    mine = (await api.http.get(f"/tickets/{key}", headers=api.auth("rita"))).json()
    assert mine["intake"] == {"title": "Call me", "phone": "138****5678"}

    for stage, user, data in (
        ("triage", "dana", {}),
        ("diagnose", "otto", {"root_cause": "bad cable"}),
    ):
        await api.http.post(f"/tickets/{key}/tasks/{stage}/claim", headers=api.auth(user))
        done = await api.http.post(
            f"/tickets/{key}/tasks/{stage}/complete", json={"data": data}, headers=api.auth(user)
        )
        assert done.status_code == 200, done.text

    def completed_forms(events: list[dict[str, Any]]) -> list[object]:
        return [e["data"]["form"] for e in events if e["type"] == "task_completed"]

    ritas = (await api.http.get(f"/tickets/{key}/events", headers=api.auth("rita"))).json()
    assert completed_forms(ritas) == [{}, {}]
    ottos = (await api.http.get(f"/tickets/{key}/events", headers=api.auth("otto"))).json()
    assert completed_forms(ottos) == [{}, {"root_cause": "bad cable"}]
    detail = (await api.http.get(f"/tickets/{key}", headers=api.auth("rita"))).json()
    diagnose = next(t for t in detail["tasks"] if t["stage_key"] == "diagnose")
    assert diagnose["data"] == {}

    for body, internal in (("between us", True), ("we are on it", False)):
        commented = await api.http.post(
            f"/tickets/{key}/comments",
            json={"body": body, "internal": internal},
            headers=api.auth("dana"),
        )
        assert commented.status_code == 200, commented.text
    internal_note = await api.http.post(
        f"/tickets/{key}/comments",
        json={"body": "psst", "internal": True},
        headers=api.auth("rita"),
    )
    assert internal_note.status_code == 403
    assert [e["pointer"] for e in internal_note.json()["errors"]] == ["/internal_comments"]

    async def comments(user: str) -> list[Any]:
        response = await api.http.get(f"/tickets/{key}/events", headers=api.auth(user))
        return [e["data"].get("body") for e in response.json() if e["type"] == "comment_added"]

    # An internal comment is an event about ticket.internal_comments: left out of her timeline.
    assert await comments("rita") == ["we are on it"]
    assert await comments("dana") == ["between us", "we are on it"]


async def test_task_completion_touching_a_denied_field_is_refused(api: Api) -> None:
    await publish_sensitive(api)
    key = (await file(api, "rita", title="Slow VPN")).json()["key"]
    await grant(
        api,
        subject="role:agent",
        domain="ops/*",
        object="ticket.root_cause",
        action="write",
        clearance="public",
        effect="deny",
    )
    await work(api, key, "triage", "dana")
    claimed = await api.http.post(f"/tickets/{key}/tasks/diagnose/claim", headers=api.auth("otto"))
    assert claimed.status_code == 200, claimed.text
    handle = api.env.client.get_workflow_handle(key)
    before = len((await handle.fetch_history()).events)
    refused = await api.http.post(
        f"/tickets/{key}/tasks/diagnose/complete",
        json={"data": {"root_cause": "dns"}},
        headers=api.auth("otto"),
    )
    assert refused.status_code == 403
    assert [e["pointer"] for e in refused.json()["errors"]] == ["/data/root_cause"]
    assert len((await handle.fetch_history()).events) == before


async def test_a_policy_change_reaches_every_api_process(api: Api) -> None:
    await publish_sensitive(api)
    key = (await file(api, "root", **FULL)).json()["key"]
    other = create_app(
        Settings(database_url="sqlite://", task_queue="unused"),
        temporal=api.env.client,
        sessions=api.sessions,
    )
    transport = httpx.ASGITransport(app=other)
    async with (
        other.router.lifespan_context(other),
        httpx.AsyncClient(transport=transport, base_url="http://other.test") as second,
    ):
        warm = await second.get(f"/tickets/{key}", headers=api.auth("audrey"))
        assert warm.json()["intake"]["phone"] == "13812345678"
        changed = await grant(
            api,
            subject="role:auditor",
            domain="*",
            object="ticket.phone",
            action="read",
            clearance="public",
            effect="deny",
        )
        after = await second.get(f"/tickets/{key}", headers=api.auth("audrey"))
        assert "phone" not in after.json()["intake"]
        await grant(
            api,
            add=False,
            subject="role:auditor",
            domain="*",
            object="ticket.phone",
            action="read",
            clearance="public",
            effect="deny",
        )
        again = await second.get(f"/tickets/{key}", headers=api.auth("audrey"))
        assert again.json()["intake"]["phone"] == "13812345678"
    assert changed["version"] >= 2


async def test_policy_api_is_for_admins_and_checks_its_input(api: Api) -> None:
    rule = {"subject": "role:agent", "object": "ticket.x", "action": "read", "reason": "r"}
    assert (await api.http.get("/policies", headers=api.auth("dana"))).status_code == 403
    assert (
        await api.http.post("/policies", json=rule, headers=api.auth("audrey"))
    ).status_code == 403
    bad = await api.http.post(
        "/policies", json={**rule, "object": "ticket.a, ticket.b"}, headers=api.auth("root")
    )
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["pointer"] == "/object"
    assert (
        await api.http.post("/policies", json=rule, headers=api.auth("root"))
    ).status_code == 201
    again = await api.http.post("/policies", json=rule, headers=api.auth("root"))
    assert again.status_code == 409
    listed = (await api.http.get("/policies", headers=api.auth("root"))).json()
    assert {**{k: v for k, v in rule.items() if k != "reason"}, "domain": "*"}.items() <= next(
        p for p in listed["policies"] if p["object"] == "ticket.x"
    ).items()
    role = {
        "user": "user:sam",
        "role": "role:auditor",
        "domain": "service-desk/*",
        "reason": "audit",
    }
    assert (
        await api.http.post("/policies/roles", json=role, headers=api.auth("root"))
    ).status_code == 201
    roles = (await api.http.get("/policies/roles", headers=api.auth("root"))).json()
    assert {"user": "user:sam", "role": "role:auditor", "domain": "service-desk/*"} in roles
    gone = await api.http.request(
        "DELETE", "/policies/roles", json={**role, "user": "user:nobody"}, headers=api.auth("root")
    )
    assert gone.status_code == 404


async def test_process_owners_publish_only_fields_their_department_may_define(api: Api) -> None:
    default = {"subject": "role:process_owner", "object": "ticket.*", "action": "define"}
    await grant(api, add=False, **default, clearance="restricted")
    await grant(api, **default, domain="{home}/*", clearance="internal")
    elsewhere = incident_document(key_prefix=api.prefix)
    refused = await api.http.post("/definitions", json=elsewhere, headers=api.auth("owner"))
    assert refused.status_code == 403
    assert "/intake_form/properties/title" in {e["pointer"] for e in refused.json()["errors"]}

    own = incident_document(
        key_prefix=api.prefix, department="process-office", intake_form=SENSITIVE_INTAKE
    )
    too_sensitive = await api.http.post("/definitions", json=own, headers=api.auth("owner"))
    assert too_sensitive.status_code == 403
    assert {e["pointer"] for e in too_sensitive.json()["errors"]} == {
        "/intake_form/properties/phone",
        "/intake_form/properties/salary",
    }
    assert (await api.http.get("/definitions", headers=api.auth("owner"))).json() == []
    plain = incident_document(key_prefix=api.prefix, department="process-office")
    assert (
        await api.http.post("/definitions", json=plain, headers=api.auth("owner"))
    ).status_code == 201
