"""Department sandboxes: templates approved per department, direct publishing as policy data."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select

from store.models import DefinitionRow, FormRow
from store.users import add_user
from tests.api.access_helpers import grant
from tests.api.conftest import Api
from tests.api.helpers import PROBLEM, incident_document

SANDBOX_SERVICE_DESK = {
    "subject": "role:process_owner",
    "domain": "service-desk/*",
    "object": "definition.direct",
    "action": "publish",
    "clearance": "public",
    "effect": "deny",
}
FORM = {"key": "contact", "title": "Contact", "schema": {"type": "object"}}


async def _owner_in(api: Api, department: str) -> str:
    """A process owner of this department (created once per test)."""
    name = f"owner-{department}"
    if name not in api.tokens:
        async with api.sessions() as session, session.begin():
            _row, api.tokens[name] = await add_user(
                session=session,
                name=name,
                department=department,
                role="process_owner",
                now=datetime.now(UTC),
            )
    return name


async def _from_template(api: Api, user: str, template: str, **body: Any) -> Any:
    return await api.http.post(
        "/definitions/from-template",
        json={"template": template, "key_prefix": api.prefix, **body},
        headers=api.auth(user),
    )


async def _stored(api: Api) -> tuple[int, int]:
    """How many definition and form versions the database holds."""
    async with api.sessions() as session:
        definitions = await session.scalar(select(func.count()).select_from(DefinitionRow))
        forms = await session.scalar(select(func.count()).select_from(FormRow))
    return definitions or 0, forms or 0


async def test_a_department_publishes_only_templates_approved_for_it(api: Api) -> None:
    desk = await _owner_in(api, "service-desk")
    approved = await _from_template(api, desk, "it-incident")
    assert approved.status_code == 201, approved.text
    assert approved.json()["definition"]["document"]["template"] == "it-incident"

    refused = await _from_template(api, desk, "finance-tax-config")
    assert (refused.status_code, refused.headers["content-type"]) == (403, PROBLEM)
    problem = refused.json()
    assert [e["pointer"] for e in problem["errors"]] == ["/template"]
    assert "not approved for department 'service-desk'" in problem["detail"]
    assert "finance" in problem["detail"]
    assert await _stored(api) == (1, 1)
    assert (await _from_template(api, "owner", "it-incident")).status_code == 403
    assert await _stored(api) == (1, 1)

    admin = await _from_template(api, "root", "finance-tax-config")
    assert admin.status_code == 201, admin.text


async def test_templates_are_flagged_approved_for_the_caller(api: Api) -> None:
    desk = await _owner_in(api, "service-desk")
    listed = (await api.http.get("/templates", headers=api.auth(desk))).json()
    flags = {t["key"]: t["approved"] for t in listed}
    assert flags == {t["key"]: "service-desk" in t["departments"] for t in listed}
    assert flags["it-incident"]
    assert not flags["finance-tax-config"]
    admin = (await api.http.get("/templates", headers=api.auth("root"))).json()
    assert all(t["approved"] for t in admin)


async def test_a_sandboxed_department_publishes_only_from_its_templates(api: Api) -> None:
    desk = await _owner_in(api, "service-desk")
    changed = await grant(api, **SANDBOX_SERVICE_DESK)
    audit = (await api.http.get("/audit/permissions", headers=api.auth("root"))).json()
    assert any(
        e["seq"] == changed["audit_seq"] and e["after"]["object"] == "definition.direct"
        for e in audit
    )

    document = incident_document(key_prefix=api.prefix, department="service-desk")
    direct = await api.http.post("/definitions", json=document, headers=api.auth(desk))
    assert (direct.status_code, direct.headers["content-type"]) == (403, PROBLEM)
    assert "'service-desk' is sandboxed" in direct.json()["detail"]
    assert "/definitions/from-template" in direct.json()["detail"]
    form = await api.http.post("/forms", json=FORM, headers=api.auth(desk))
    assert form.status_code == 403
    assert "sandboxed" in form.json()["detail"]
    assert await _stored(api) == (0, 0)

    first = await _from_template(api, desk, "it-incident", key="desk-incident")
    assert first.status_code == 201, first.text
    again = await _from_template(api, desk, "it-incident", key="desk-incident", title="Outage")
    assert again.status_code == 201, again.text
    assert again.json()["definition"]["version"] == 2
    hr = await _from_template(api, desk, "hr-onboarding-issue")
    assert hr.status_code == 403, hr.text

    unsandboxed = incident_document(
        key="office-incident", key_prefix=api.prefix, department="process-office"
    )
    other = await api.http.post("/definitions", json=unsandboxed, headers=api.auth("owner"))
    assert other.status_code == 201, other.text
    assert (await api.http.post("/forms", json=FORM, headers=api.auth("owner"))).status_code == 201

    await grant(api, add=False, **SANDBOX_SERVICE_DESK)
    lifted = await api.http.post("/definitions", json=document, headers=api.auth(desk))
    assert lifted.status_code == 201, lifted.text


async def test_admins_are_exempt_from_sandboxes(api: Api) -> None:
    await grant(api, **{**SANDBOX_SERVICE_DESK, "subject": "user:root", "domain": "*"})
    document = incident_document(key_prefix=api.prefix)
    published = await api.http.post("/definitions", json=document, headers=api.auth("root"))
    assert published.status_code == 201, published.text
    assert (await api.http.post("/forms", json=FORM, headers=api.auth("root"))).status_code == 201


async def test_a_fresh_install_sandboxes_no_one(api: Api) -> None:
    rules = (await api.http.get("/policies", headers=api.auth("root"))).json()["policies"]
    direct = [r for r in rules if r["object"] == "definition.direct"]
    assert direct == [
        {
            "subject": "role:process_owner",
            "domain": "*",
            "object": "definition.direct",
            "action": "publish",
            "clearance": "restricted",
            "effect": "allow",
        }
    ]
    desk = await _owner_in(api, "service-desk")
    document = incident_document(key_prefix=api.prefix, department="service-desk")
    published = await api.http.post("/definitions", json=document, headers=api.auth(desk))
    assert published.status_code == 201, published.text


async def test_templates_define_only_fields_the_department_may_define(api: Api) -> None:
    default = {"subject": "role:process_owner", "object": "ticket.*", "action": "define"}
    await grant(api, add=False, **default, clearance="restricted")
    await grant(api, **default, domain="{home}/*", clearance="internal")
    desk = await _owner_in(api, "service-desk")
    refused = await _from_template(api, desk, "it-incident")
    assert refused.status_code == 403
    pointers = {e["pointer"] for e in refused.json()["errors"]}
    assert "/intake_form/properties/contact_email" in pointers
    assert await _stored(api) == (0, 0)


async def test_a_direct_publish_cannot_claim_a_template(api: Api) -> None:
    document = incident_document(key_prefix=api.prefix, template="it-incident")
    claimed = await api.http.post("/definitions", json=document, headers=api.auth("owner"))
    assert claimed.status_code == 422
    assert [e["pointer"] for e in claimed.json()["errors"]] == ["/template"]
    assert await _stored(api) == (0, 0)
    report = await api.http.post("/definitions/validate", json=document, headers=api.auth("owner"))
    assert report.json()["valid"] is False
    assert [e["pointer"] for e in report.json()["errors"]] == ["/template"]


async def test_a_sandbox_rule_holds_whatever_clearance_it_names(api: Api) -> None:
    desk = await _owner_in(api, "service-desk")
    await grant(api, **{**SANDBOX_SERVICE_DESK, "clearance": "restricted"})
    document = incident_document(key_prefix=api.prefix, department="service-desk")
    direct = await api.http.post("/definitions", json=document, headers=api.auth(desk))
    assert direct.status_code == 403
    assert await _stored(api) == (0, 0)


async def test_recommendations_leave_grants_they_cannot_count(api: Api) -> None:
    response = await api.http.get(
        "/policies/recommendations", params={"role": "process_owner"}, headers=api.auth("root")
    )
    assert response.status_code == 200, response.text
    proposed = [r["action"] for r in response.json()["remove_unused"]]
    assert proposed == ["read"]
