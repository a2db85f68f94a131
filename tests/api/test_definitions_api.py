"""Publishing, versioning and validating definitions and forms over HTTP."""

from __future__ import annotations

import yaml

from tests.api.conftest import Api
from tests.api.helpers import PROBLEM, incident_document, publish_incident


async def test_publish_assigns_versions_and_keeps_old_ones(api: Api) -> None:
    # The key belongs to the department of its latest version: the owner's own, here.
    first = await publish_incident(api, department="process-office")
    second = await publish_incident(api, department="process-office", title="IT incident (v2)")
    assert (first["version"], second["version"]) == (1, 2)

    latest = await api.http.get("/definitions/incident", headers=api.auth("dana"))
    assert latest.json()["title"] == "IT incident (v2)"
    old = await api.http.get("/definitions/incident/versions/1", headers=api.auth("dana"))
    assert old.json()["title"] == "IT incident"
    versions = await api.http.get("/definitions/incident/versions", headers=api.auth("dana"))
    assert [v["version"] for v in versions.json()] == [2, 1]
    listed = await api.http.get("/definitions", headers=api.auth("dana"))
    assert {(d["key"], d["version"]) for d in listed.json()} == {("incident", 1), ("incident", 2)}


async def test_yaml_body_is_accepted(api: Api) -> None:
    response = await api.http.post(
        "/definitions",
        content=yaml.safe_dump(incident_document()),
        headers={**api.auth("owner"), "Content-Type": "application/yaml"},
    )
    assert response.status_code == 201, response.text
    assert response.json()["document"]["stages"][1]["depends_on"] == ["triage"]


async def test_invalid_definition_lists_every_problem_with_its_location(api: Api) -> None:
    document = incident_document(intake_form={"type": "object", "properties": {"x": {"type": 7}}})
    document["stages"] = [
        {"key": "a", "title": "A", "group": "g", "depends_on": ["c"]},
        {"key": "a", "title": "A again", "group": "g"},
        {"key": "b", "title": "B", "group": "g", "depends_on": ["ghost"]},
        {"key": "c", "title": "C", "group": "g", "depends_on": ["a"]},
    ]
    response = await api.http.post("/definitions", json=document, headers=api.auth("owner"))
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    pointers = {e["pointer"] for e in response.json()["errors"]}
    assert "/stages/1/key" in pointers  # duplicate key
    assert "/stages/2/depends_on/0" in pointers  # unknown stage
    assert any(p.startswith("/intake_form/properties/x") for p in pointers)  # bad schema
    assert any("cycle" in e["detail"] for e in response.json()["errors"])
    assert (await api.http.get("/definitions", headers=api.auth("owner"))).json() == []


async def test_shape_errors_point_at_fields(api: Api) -> None:
    document = incident_document(key="Bad Key", stages=[{"key": "a", "group": "g"}])
    response = await api.http.post("/definitions", json=document, headers=api.auth("owner"))
    assert response.status_code == 422
    pointers = {e["pointer"] for e in response.json()["errors"]}
    assert {"/key", "/stages/0/title"} <= pointers


async def test_validate_reports_without_publishing(api: Api) -> None:
    bad = incident_document(stages=[{"key": "a", "title": "A", "group": "g", "depends_on": ["a"]}])
    report = await api.http.post("/definitions/validate", json=bad, headers=api.auth("dana"))
    assert report.status_code == 200
    assert report.json()["valid"] is False
    assert report.json()["errors"][0]["pointer"] == "/stages/0/depends_on/0"
    good = await api.http.post(
        "/definitions/validate", json=incident_document(), headers=api.auth("dana")
    )
    assert good.json() == {"valid": True, "errors": []}
    assert (await api.http.get("/definitions", headers=api.auth("dana"))).json() == []


async def test_only_process_owners_publish(api: Api) -> None:
    for user in ("rita", "dana", "audrey"):
        response = await api.http.post(
            "/definitions", json=incident_document(), headers=api.auth(user)
        )
        assert response.status_code == 403, user
        assert response.headers["content-type"] == PROBLEM
    assert (
        await api.http.post("/definitions", json=incident_document(), headers=api.auth("root"))
    ).status_code == 201


async def test_malformed_bodies_are_problems_not_500s(api: Api) -> None:
    for content, content_type in (
        (b"{not json", "application/json"),
        (b"key: [unclosed", "application/yaml"),
        (b"\xff\xfe", "application/json"),
        (b"[1, 2]", "application/json"),
    ):
        response = await api.http.post(
            "/definitions",
            content=content,
            headers={**api.auth("owner"), "Content-Type": content_type},
        )
        assert 400 <= response.status_code < 500, (content, response.text)
        assert response.headers["content-type"] == PROBLEM


async def test_forms_are_versioned_and_referenced_by_key_at_version(api: Api) -> None:
    schema = {
        "type": "object",
        "required": ["root_cause"],
        "properties": {"root_cause": {"type": "string"}},
    }
    created = await api.http.post(
        "/forms",
        json={"key": "diagnosis", "title": "Diagnosis", "schema": schema},
        headers=api.auth("owner"),
    )
    assert created.status_code == 201, created.text
    assert created.json()["version"] == 1
    assert created.json()["schema"] == schema

    document = incident_document()
    document["stages"][1] = {**document["stages"][1], "form": None, "form_ref": "diagnosis@1"}
    published = await api.http.post("/definitions", json=document, headers=api.auth("owner"))
    assert published.status_code == 201, published.text
    assert published.json()["document"]["stages"][1]["form"] == schema

    document["stages"][1]["form_ref"] = "diagnosis@9"
    missing = await api.http.post("/definitions", json=document, headers=api.auth("owner"))
    assert missing.status_code == 422
    assert missing.json()["errors"] == [
        {"pointer": "/stages/1/form_ref", "detail": "unknown form diagnosis@9"}
    ]


async def test_invalid_form_schema_is_rejected(api: Api) -> None:
    response = await api.http.post(
        "/forms",
        json={"key": "bad", "title": "Bad", "schema": {"type": "array"}},
        headers=api.auth("owner"),
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["pointer"].startswith("/schema")
    assert (await api.http.get("/forms/bad", headers=api.auth("owner"))).status_code == 404
