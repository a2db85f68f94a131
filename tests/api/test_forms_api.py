"""Form layouts, diffs, drafts from a sentence, and refused schemas over HTTP."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import Api
from tests.api.helpers import PROBLEM

V1: dict[str, Any] = {
    "type": "object",
    "x-language": "zh",
    "x-order": ["phone", "kind"],
    "required": ["phone"],
    "properties": {
        "phone": {"type": "string", "title": "手机号", "x-widget": "phone", "x-maskable": True},
        "kind": {"enum": ["call", "visit"], "title": "方式"},
        "address": {"type": "string", "title": "地址"},
    },
    "if": {"properties": {"kind": {"const": "visit"}}},
    "then": {"required": ["address"]},
}


async def _publish(api: Api, schema: dict[str, Any]) -> int:
    response = await api.http.post(
        "/forms",
        json={"key": "callback", "title": "Callback", "schema": schema},
        headers=api.auth("owner"),
    )
    assert response.status_code == 201, response.text
    version: int = response.json()["version"]
    return version


async def test_layout_and_diff_of_published_versions(api: Api) -> None:
    v1 = await _publish(api, V1)
    v2_schema = {**V1, "properties": {**V1["properties"], "email": {"type": "string"}}}
    v2_schema["properties"]["phone"] = {**V1["properties"]["phone"], "x-sensitivity": "restricted"}
    del v2_schema["properties"]["kind"]
    del v2_schema["if"], v2_schema["then"]
    v2_schema["x-order"] = ["phone"]
    v2 = await _publish(api, v2_schema)
    response = await api.http.get(f"/forms/callback/versions/{v1}/layout", headers=api.auth("rita"))
    assert response.status_code == 200, response.text
    layout = response.json()
    assert layout["language"] == "zh"
    fields = {f["name"]: f for f in layout["fields"]}
    assert [f["name"] for f in layout["fields"]] == ["phone", "kind", "address"]
    assert (fields["phone"]["widget"], fields["phone"]["maskable"]) == ("phone", True)
    assert fields["address"]["visible_when"] == [
        {"field": "kind", "equals": ["visit"], "negate": False}
    ]
    diff = await api.http.get(f"/forms/callback/versions/{v1}/diff/{v2}", headers=api.auth("rita"))
    assert diff.status_code == 200, diff.text
    body = diff.json()
    assert [f["pointer"] for f in body["added"]] == ["/email"]
    assert [f["pointer"] for f in body["removed"]] == ["/kind"]
    assert body["changed"] == [
        {
            "pointer": "/phone",
            "title": "手机号",
            "changes": [{"keyword": "x-sensitivity", "before": None, "after": "restricted"}],
        }
    ]
    assert {c["keyword"] for c in body["form_changes"]} == {"if", "then", "x-order"}
    missing = await api.http.get(f"/forms/callback/versions/{v1}/diff/9", headers=api.auth("rita"))
    assert (missing.status_code, missing.headers["content-type"]) == (404, PROBLEM)


async def test_published_form_data_errors_are_in_its_language(api: Api) -> None:
    document = {
        "key": "zh-intake",
        "title": "报修",
        "key_prefix": api.prefix,
        "department": "service-desk",
        "intake_form": {**V1, "properties": {**V1["properties"]}},
        "stages": [{"key": "triage", "title": "分派", "group": "service-desk"}],
    }
    published = await api.http.post("/definitions", json=document, headers=api.auth("owner"))
    assert published.status_code == 201, published.text
    response = await api.http.post(
        "/tickets",
        json={"definition": "zh-intake", "data": {"kind": "visit"}},
        headers=api.auth("rita"),
    )
    assert response.status_code == 422
    errors = {e["pointer"]: e["detail"] for e in response.json()["errors"]}
    assert errors == {"/data/address": "此项为必填项", "/data/phone": "此项为必填项"}


async def test_generate_drafts_without_publishing(api: Api) -> None:
    response = await api.http.post(
        "/forms/generate",
        json={"text": "需要收集客户手机号、故障设备SN码、期望回电时间、车牌颜色（选填）"},
        headers=api.auth("owner"),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert list(body["schema"]["properties"]) == ["phone", "device_sn", "datetime", "field_4"]
    assert body["review"] == ["/field_4"]
    assert [f["widget"] for f in body["layout"]["fields"]] == [
        "phone",
        "device-picker",
        "date-time",
        "text",
    ]
    assert (await api.http.get("/forms", headers=api.auth("owner"))).json() == []
    draft = body["schema"]
    draft["properties"]["field_4"]["x-widget"] = "colour-wheel"
    checked = await api.http.post(
        "/forms/validate", json={"schema": draft}, headers=api.auth("owner")
    )
    assert checked.json()["valid"] is False
    assert [e["pointer"] for e in checked.json()["errors"]] == [
        "/schema/properties/field_4/x-widget"
    ]
    draft["properties"]["field_4"]["x-widget"] = "text"
    checked = await api.http.post(
        "/forms/validate", json={"schema": draft}, headers=api.auth("owner")
    )
    assert checked.json() == {"valid": True, "errors": []}
    published = await api.http.post(
        "/forms",
        json={"key": "callback", "title": "回电", "schema": draft},
        headers=api.auth("owner"),
    )
    assert published.status_code == 201, published.text


async def test_generate_refuses_empty_and_huge_text_clearly(api: Api) -> None:
    for text in ["", "   ", "手" * 10_000]:
        response = await api.http.post(
            "/forms/generate", json={"text": text}, headers=api.auth("owner")
        )
        assert (response.status_code, response.headers["content-type"]) == (422, PROBLEM)
        (error,) = response.json()["errors"]
        assert error["pointer"] == "/text"
    requester = await api.http.post(
        "/forms/generate", json={"text": "手机号"}, headers=api.auth("rita")
    )
    assert requester.status_code == 403


async def test_bad_schemas_are_refused_with_every_problem(api: Api) -> None:
    schema: dict[str, Any] = {
        "type": "object",
        "definitions": {},
        "x-order": ["ghost"],
        "properties": {
            "a": {"type": "string", "pattern": "^(?=a)a+$", "x-widget": "slider"},
            "b": {"type": "string", "format": "emial", "maxLenght": 3},
        },
    }
    response = await api.http.post(
        "/forms",
        json={"key": "bad", "title": "Bad", "schema": schema},
        headers=api.auth("owner"),
    )
    assert (response.status_code, response.headers["content-type"]) == (422, PROBLEM)
    assert [e["pointer"] for e in response.json()["errors"]] == [
        "/schema/definitions",
        "/schema/properties/a/pattern",
        "/schema/properties/a/x-widget",
        "/schema/properties/b/format",
        "/schema/properties/b/maxLenght",
        "/schema/x-order/0",
    ]
    deep: dict[str, Any] = {"type": "object"}
    for _ in range(40):
        deep = {"type": "object", "properties": {"x": deep}}
    too_deep = await api.http.post(
        "/forms", json={"key": "deep", "title": "Deep", "schema": deep}, headers=api.auth("owner")
    )
    assert too_deep.status_code == 422
    assert "deeper than" in too_deep.json()["errors"][0]["detail"]
