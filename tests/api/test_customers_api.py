"""Customers and consent over HTTP: redaction by role, bad input, the one-time revocation link."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select

from store.models import ConsentRevocationRow, ConsentRow, CustomerRow, TicketRow
from store.users import add_user
from tests.api.access_helpers import grant
from tests.api.conftest import Api
from tests.api.helpers import PROBLEM, publish_incident
from tests.builders import INCIDENT

CUSTOMER: dict[str, Any] = {
    "id": "C-1",
    "name": "Li Wei",
    "email": "li.wei@example.com",
    "phone": "+86 138 0000 5678",
    "address": "1 Garden Road",
    "lifetime_value": 12500,
    "region": "east",
    "products": [{"product_id": "AC-200", "name": "Air conditioner", "purchased_on": "2025-06-01"}],
}
CONSENT = {"purpose": "care_messages", "channel": "phone", "text": "May we send you tips?"}


async def add_care_agent(api: Api, name: str = "carla") -> None:
    """An agent of the customer-care department (the default care department)."""
    async with api.sessions() as session, session.begin():
        _row, api.tokens[name] = await add_user(
            session=session,
            name=name,
            department="customer-care",
            role="agent",
            now=datetime.now(UTC),
        )


async def created(api: Api, document: dict[str, Any] | None = None) -> dict[str, Any]:
    response = await api.http.post(
        "/customers", json=document or CUSTOMER, headers=api.auth("carla")
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def count(api: Api, table: Any) -> int:
    async with api.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(table)) or 0)


# Who sees which field of a customer: the care department's agents and admins all of it; other
# agents and auditors no contact field and no consent; requesters, process owners and systems
# are refused at the door.
CONTACT = ("email", "phone", "address", "consents", "consenting_to")
PLAIN = ("id", "name", "tier", "lifetime_value", "region", "products", "created_at", "created_by")
SHOWN_TO = {
    "carla": PLAIN + CONTACT,
    "root": PLAIN + CONTACT,
    "dana": PLAIN,
    "otto": PLAIN,
    "audrey": PLAIN,
}
TRUTH = [
    (user, field, field in shown) for user, shown in SHOWN_TO.items() for field in PLAIN + CONTACT
]


@pytest.fixture
async def customer_api(api: Api) -> Api:
    await add_care_agent(api)
    await created(api)
    consent = await api.http.post(
        "/customers/C-1/consents", json=CONSENT, headers=api.auth("carla")
    )
    assert consent.status_code == 201, consent.text
    return api


async def test_redaction_by_role_truth_table(customer_api: Api) -> None:
    api = customer_api
    seen: dict[str, set[str]] = {}
    for user in SHOWN_TO:
        response = await api.http.get("/customers/C-1", headers=api.auth(user))
        assert response.status_code == 200, (user, response.text)
        seen[user] = set(response.json())
        listed = await api.http.get("/customers", headers=api.auth(user))
        assert [set(item) for item in listed.json()["items"]] == [seen[user]], user
    assert [(u, f, f in seen[u]) for u, f, _ in TRUTH] == TRUTH
    full = (await api.http.get("/customers/C-1", headers=api.auth("carla"))).json()
    assert full["email"] == CUSTOMER["email"]
    assert full["tier"] == "vip"  # derived: 12,500 reaches the vip band
    assert full["consenting_to"] == ["care_messages"]
    for user in ("rita", "owner", "monitor"):
        refused = await api.http.get("/customers/C-1", headers=api.auth(user))
        assert refused.status_code == 403, user
        assert (await api.http.get("/customers", headers=api.auth(user))).status_code == 403


async def test_a_bad_customer_lists_every_problem_and_stores_nothing(api: Api) -> None:
    await add_care_agent(api)
    bad = {**CUSTOMER, "id": "C 1", "email": "nope", "tier": "gold", "shoe_size": 42}
    bad["products"] = [{"product_id": "AC-200", "name": "Fan", "purchased_on": "soon"}]
    response = await api.http.post("/customers", json=bad, headers=api.auth("carla"))
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    assert sorted(e["pointer"] for e in response.json()["errors"]) == [
        "/email",
        "/id",
        "/products/0/purchased_on",
        "/shoe_size",
        "/tier",
    ]
    assert await count(api, CustomerRow) == 0


async def test_other_departments_may_not_write_contact_fields(api: Api) -> None:
    await add_care_agent(api)
    refused = await api.http.post("/customers", json=CUSTOMER, headers=api.auth("dana"))
    assert refused.status_code == 403
    # No field of a customer is theirs to write: each is named, sorted by field.
    assert [e["pointer"] for e in refused.json()["errors"]] == [
        "/address",
        "/email",
        "/id",
        "/lifetime_value",
        "/name",
        "/phone",
        "/products",
        "/region",
    ]
    assert (
        await api.http.post("/customers", json=CUSTOMER, headers=api.auth("rita"))
    ).status_code == 403
    assert await count(api, CustomerRow) == 0
    await created(api)
    again = await api.http.post("/customers", json=CUSTOMER, headers=api.auth("carla"))
    assert again.status_code == 409
    assert [e["pointer"] for e in again.json()["errors"]] == ["/id"]


async def test_customers_are_paged(api: Api) -> None:
    await add_care_agent(api)
    for cid in ("C-3", "C-1", "C-2"):
        await created(api, {"id": cid, "name": cid, "tier": "basic"})
    first = (await api.http.get("/customers?limit=2", headers=api.auth("dana"))).json()
    assert [c["id"] for c in first["items"]] == ["C-1", "C-2"]
    rest = await api.http.get(
        f"/customers?limit=2&cursor={first['next_cursor']}", headers=api.auth("dana")
    )
    assert ([c["id"] for c in rest.json()["items"]], rest.json()["next_cursor"]) == (["C-3"], None)
    bad = await api.http.get("/customers?cursor=xyz", headers=api.auth("dana"))
    assert bad.status_code == 422
    assert [e["pointer"] for e in bad.json()["errors"]] == ["query:/cursor"]
    assert (await api.http.get("/customers/C-9", headers=api.auth("dana"))).status_code == 404


async def test_the_revocation_link_works_once(customer_api: Api) -> None:
    api = customer_api
    consent = await api.http.post(
        "/customers/C-1/consents",
        json={**CONSENT, "purpose": "sentiment_analysis", "channel": "web"},
        headers=api.auth("carla"),
    )
    body = consent.json()
    assert body["recorded_by"] == "carla"
    token = body["revocation_token"]
    async with api.sessions() as session:
        stored = await session.scalars(select(ConsentRow.token_sha256))
        assert token not in set(stored.all())  # only its hash is kept
    first = await api.http.post(body["revocation_path"])  # no account needed
    assert first.status_code == 200, first.text
    assert first.json()["purpose"] == "sentiment_analysis"
    rows = (await count(api, ConsentRow), await count(api, ConsentRevocationRow))
    again = await api.http.post(f"/consents/revoke/{token}")
    forged = await api.http.post("/consents/revoke/" + "x" * 43)
    assert (again.status_code, forged.status_code) == (404, 404)
    assert again.headers["content-type"] == PROBLEM
    assert (await count(api, ConsentRow), await count(api, ConsentRevocationRow)) == rows == (2, 1)
    shown = (await api.http.get("/customers/C-1", headers=api.auth("carla"))).json()
    assert shown["consenting_to"] == ["care_messages"]
    # The consent once given stays on record, with its revocation beside it.
    [revoked] = [c for c in shown["consents"] if c["purpose"] == "sentiment_analysis"]
    assert (revoked["text"], revoked["revoked_by"], revoked["revoked_via"]) == (
        CONSENT["text"],
        "customer",
        "link",
    )


async def test_an_agent_revokes_and_the_link_is_then_spent(api: Api) -> None:
    await add_care_agent(api)
    await created(api)
    given = await api.http.post("/customers/C-1/consents", json=CONSENT, headers=api.auth("carla"))
    token = given.json()["revocation_token"]
    other = await api.http.delete("/customers/C-1/consents/care_messages", headers=api.auth("dana"))
    assert other.status_code == 403  # another department's agent writes no consent
    revoked = await api.http.delete(
        "/customers/C-1/consents/care_messages", headers=api.auth("carla")
    )
    assert revoked.status_code == 200, revoked.text
    assert (revoked.json()["via"], revoked.json()["purpose"]) == ("api", "care_messages")
    again = await api.http.delete(
        "/customers/C-1/consents/care_messages", headers=api.auth("carla")
    )
    assert again.status_code == 404
    assert (await api.http.post(f"/consents/revoke/{token}")).status_code == 404
    assert await count(api, ConsentRevocationRow) == 1
    assert await count(api, ConsentRow) == 1


async def test_bad_consent_is_refused_with_pointers(api: Api) -> None:
    await add_care_agent(api)
    await created(api)
    bad = await api.http.post(
        "/customers/C-1/consents",
        json={"purpose": "marketing", "channel": "pigeon", "text": ""},
        headers=api.auth("carla"),
    )
    assert bad.status_code == 422
    assert sorted(e["pointer"] for e in bad.json()["errors"]) == ["/channel", "/purpose", "/text"]
    future = await api.http.post(
        "/customers/C-1/consents",
        json={**CONSENT, "given_at": "2999-01-01T00:00:00Z"},
        headers=api.auth("carla"),
    )
    assert [e["pointer"] for e in future.json()["errors"]] == ["/given_at"]
    unknown = await api.http.delete("/customers/C-1/consents/marketing", headers=api.auth("carla"))
    assert unknown.status_code == 422
    assert [e["pointer"] for e in unknown.json()["errors"]] == ["path:/purpose"]
    by_dana = await api.http.post("/customers/C-1/consents", json=CONSENT, headers=api.auth("dana"))
    assert by_dana.status_code == 403
    assert await count(api, ConsentRow) == 0


async def test_a_ticket_naming_an_unknown_customer_is_refused(api: Api) -> None:
    await add_care_agent(api)
    await created(api)
    intake = copy.deepcopy(INCIDENT["intake_form"])
    intake["properties"]["customer_id"] = {"type": "string"}
    await publish_incident(api, intake_form=intake)
    unknown = await api.http.post(
        "/tickets",
        json={"definition": "incident", "data": {"title": "Noisy fan", "customer_id": "C-404"}},
        headers=api.auth("rita"),
    )
    assert unknown.status_code == 422
    assert [e["pointer"] for e in unknown.json()["errors"]] == ["/data/customer_id"]
    assert await count(api, TicketRow) == 0
    known = await api.http.post(
        "/tickets",
        json={"definition": "incident", "data": {"title": "Noisy fan", "customer_id": "C-1"}},
        headers=api.auth("rita"),
    )
    assert known.status_code == 201, known.text


async def test_recording_consent_needs_reading_it_too(api: Api) -> None:
    await add_care_agent(api)
    await created(api)
    await grant(
        api,
        subject="dept:service-desk",
        domain="*",
        object="customer.consents",
        action="write",
        clearance="confidential",
    )
    write_only = await api.http.post(
        "/customers/C-1/consents", json=CONSENT, headers=api.auth("dana")
    )
    assert write_only.status_code == 403
    assert [e["pointer"] for e in write_only.json()["errors"]] == ["/consents"]
    assert await count(api, ConsentRow) == 0
