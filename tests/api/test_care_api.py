"""Care strategies over HTTP: published as versions, every problem at once, calendars pinned."""

from __future__ import annotations

import copy
from typing import Any

import yaml

from tests.api.conftest import Api
from tests.api.helpers import PROBLEM
from tests.domain.test_care_strategies import STRATEGY

CALENDAR = {
    "key": "office",
    "timezone": "Asia/Shanghai",
    "hours": {d: ["09:00-18:00"] for d in ("mon", "tue", "wed", "thu", "fri")},
}


async def test_strategies_publish_as_versions(api: Api) -> None:
    first = await api.http.post("/care/strategies", json=STRATEGY, headers=api.auth("owner"))
    assert first.status_code == 201, first.text
    assert (first.json()["key"], first.json()["version"]) == ("after-repair", 1)
    changed = {**STRATEGY, "title": "After a repair, v2"}
    second = await api.http.post(
        "/care/strategies",
        content=yaml.safe_dump(changed),
        headers={**api.auth("owner"), "Content-Type": "application/yaml"},
    )
    assert second.status_code == 201, second.text
    assert second.json()["version"] == 2
    one = await api.http.get("/care/strategies/after-repair/versions/1", headers=api.auth("dana"))
    assert one.status_code == 200
    assert one.json()["title"] == "After a repair"
    assert one.json()["document"]["rules"][0]["actions"][1]["delay"] == "PT4H"
    latest = await api.http.get("/care/strategies/after-repair", headers=api.auth("audrey"))
    assert latest.json()["version"] == 2
    missing = await api.http.get(
        "/care/strategies/after-repair/versions/3", headers=api.auth("dana")
    )
    assert missing.status_code == 404
    assert (
        await api.http.get("/care/strategies/after-repair", headers=api.auth("rita"))
    ).status_code == 403
    assert (
        await api.http.post("/care/strategies", json=STRATEGY, headers=api.auth("dana"))
    ).status_code == 403


async def test_a_bad_strategy_lists_every_problem_and_publishes_nothing(api: Api) -> None:
    bad: dict[str, Any] = copy.deepcopy(STRATEGY)
    bad["rules"][0]["when"]["tiers"] = ["gold"]
    bad["rules"][1]["when"]["dates"] = {"start": "2026-12-31", "end": "2026-01-01"}
    bad["rules"][2]["actions"] = []
    bad["rules"][3]["actions"] = [
        {"action": "fax", "delay": "P1D"},
        {"action": "survey", "delay": "-P1D"},
        {"action": "coupon", "delay": "PT0S"},
        {"action": "usage_tips", "delay": "P1000D"},
        {"action": "warranty_offer", "delay": "P30D", "calendar": "nowhere"},
    ]
    response = await api.http.post("/care/strategies", json=bad, headers=api.auth("owner"))
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    assert [e["pointer"] for e in response.json()["errors"]] == [
        "/rules/0/when/tiers/0",
        "/rules/1/when/dates/end",
        "/rules/2/actions",
        "/rules/3/actions/0/action",
        "/rules/3/actions/1/delay",
        "/rules/3/actions/2/delay",
        "/rules/3/actions/3/delay",
        "/rules/3/actions/4/calendar",
    ]
    shape = await api.http.post(
        "/care/strategies",
        json={"key": "Bad Key", "rules": [{"name": "r", "actions": [{"delay": "soon"}]}]},
        headers=api.auth("owner"),
    )
    assert shape.status_code == 422
    assert sorted(e["pointer"] for e in shape.json()["errors"]) == [
        "/key",
        "/rules/0/actions/0/action",
        "/rules/0/actions/0/delay",
    ]
    missing = await api.http.get("/care/strategies/after-repair", headers=api.auth("dana"))
    assert missing.status_code == 404


async def test_business_delays_pin_their_calendar(api: Api) -> None:
    calendar = await api.http.post("/calendars", json=CALENDAR, headers=api.auth("owner"))
    assert calendar.status_code == 201, calendar.text
    document = copy.deepcopy(STRATEGY)
    document["rules"][3]["actions"][0]["calendar"] = "office"
    published = await api.http.post("/care/strategies", json=document, headers=api.auth("owner"))
    assert published.status_code == 201, published.text
    stored = published.json()["document"]
    assert stored["rules"][3]["actions"][0]["calendar"] == "office@1"
    assert set(stored["calendars"]) == {"office@1"}
