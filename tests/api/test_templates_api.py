"""Every bundled template: listed, instantiated over HTTP and run through a ticket's whole life."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from forms.library import Template, bundled_templates
from store.users import add_user
from tests.api.conftest import Api
from tests.api.helpers import PROBLEM

TEMPLATES = bundled_templates()


async def _user_for(api: Api, group: str, role: str = "agent") -> str:
    name = f"{role}-{group}"
    if name not in api.tokens:
        async with api.sessions() as session, session.begin():
            _row, api.tokens[name] = await add_user(
                session=session, name=name, department=group, role=role, now=datetime.now(UTC)
            )
    return name


def test_the_library_covers_the_departments() -> None:
    assert len(TEMPLATES) >= 12
    assert len({t.key for t in TEMPLATES}) == len(TEMPLATES)
    assert all(t.departments for t in TEMPLATES)


@pytest.mark.parametrize("template", TEMPLATES, ids=[t.key for t in TEMPLATES])
async def test_template_runs_through_a_tickets_life(api: Api, template: Template) -> None:
    owner = await _user_for(api, template.departments[0], "process_owner")
    created = await api.http.post(
        "/definitions/from-template",
        json={"template": template.key, "key": "from-template", "key_prefix": api.prefix},
        headers=api.auth(owner),
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["form"]["key"] == "from-template"
    document = body["definition"]["document"]
    assert document["intake_form_ref"] == f"from-template@{body['form']['version']}"
    ticket = await api.http.post(
        "/tickets",
        json={"definition": "from-template", "data": template.form["examples"][0]},
        headers=api.auth("rita"),
    )
    assert ticket.status_code == 201, ticket.text
    key = ticket.json()["key"]
    for stage in document["stages"]:
        worker = await _user_for(api, stage["group"])
        claimed = await api.http.post(
            f"/tickets/{key}/tasks/{stage['key']}/claim", headers=api.auth(worker)
        )
        assert claimed.status_code == 200, claimed.text
        done = await api.http.post(
            f"/tickets/{key}/tasks/{stage['key']}/complete",
            json={"data": stage["form"]["examples"][0]},
            headers=api.auth(worker),
        )
        assert done.status_code == 200, done.text
    confirmed = await api.http.post(
        f"/tickets/{key}/confirm", json={"comment": "ok"}, headers=api.auth("rita")
    )
    assert confirmed.status_code == 200, confirmed.text
    final = await api.http.get(f"/tickets/{key}", headers=api.auth("rita"))
    assert final.json()["status"] == "closed"
    # Worked at once, every clock the template declares was met.
    expected = (["ticket"] if document.get("sla") else []) + [
        f"stage:{s['key']}" for s in document["stages"] if s.get("sla")
    ]
    sla = await api.http.get(f"/tickets/{key}/sla", headers=api.auth("audrey"))
    assert sla.status_code == 200, sla.text
    clocks = {c["id"]: c["state"] for c in sla.json()["clocks"]}
    assert clocks == dict.fromkeys(expected, "met")


async def test_templates_are_listed_per_department(api: Api) -> None:
    everything = await api.http.get("/templates", headers=api.auth("rita"))
    assert [t["key"] for t in everything.json()] == [t.key for t in TEMPLATES]
    finance = await api.http.get("/templates?department=finance", headers=api.auth("rita"))
    assert [t["key"] for t in finance.json()] == ["finance-tax-config"]
    one = await api.http.get("/templates/elevator-entrapment", headers=api.auth("rita"))
    assert one.json()["form"]["x-language"] == "zh"
    missing = await api.http.get("/templates/nope", headers=api.auth("rita"))
    assert (missing.status_code, missing.headers["content-type"]) == (404, PROBLEM)


async def test_from_template_is_for_process_owners_and_names_bad_input(api: Api) -> None:
    refused = await api.http.post(
        "/definitions/from-template", json={"template": "it-incident"}, headers=api.auth("rita")
    )
    assert refused.status_code == 403
    unknown = await api.http.post(
        "/definitions/from-template", json={"template": "nope"}, headers=api.auth("owner")
    )
    assert unknown.status_code == 422
    assert [e["pointer"] for e in unknown.json()["errors"]] == ["/template"]
    bad_prefix = await api.http.post(
        "/definitions/from-template",
        json={"template": "it-incident", "key_prefix": "lower"},
        headers=api.auth("owner"),
    )
    assert [e["pointer"] for e in bad_prefix.json()["errors"]] == ["/key_prefix"]
    assert (await api.http.get("/forms", headers=api.auth("owner"))).json() == []
