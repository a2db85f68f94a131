"""Problem records over HTTP: a scan's candidate, redacted per caller, decided once, linked."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from activities.problem_scan import ProblemScanActivities
from domain.problem_candidates import ProblemScanInput
from tests.api.conftest import Api
from tests.api.helpers import PROBLEM, create_ticket, publish_incident
from tests.api.test_triage_api import TRIAGE, triage_view
from tests.problems import history, seed


async def _scan(api: Api) -> dict[str, Any]:
    result = await ProblemScanActivities(api.sessions).scan_problems(ProblemScanInput(days=11))
    return result.model_dump()


async def test_a_scan_proposes_one_problem_shown_as_far_as_each_caller_may_see(api: Api) -> None:
    await publish_incident(api, triage=TRIAGE)
    now = datetime.now(UTC)
    tickets, caused = history(now)
    await seed(api.sessions, api.prefix, tickets)
    assert await _scan(api) == {
        "tickets": len(tickets),
        "candidates": 1,
        "proposed": 1,
        "updated": 0,
    }
    # Scanning again finds the same candidate: one record, unchanged.
    assert (await _scan(api))["proposed"] == 0

    listed = await api.http.get("/problems", headers=api.auth("dana"))
    assert listed.status_code == 200, listed.text
    (problem,) = listed.json()["items"]
    assert problem["status"] == "proposed"
    assert {f"{api.prefix}-{k}" for k in caused} <= set(problem["tickets"])
    assert problem["hidden_tickets"] == 0
    assert {"login", "insurance"} <= set(problem["terms"])
    assert problem["assets"] == {"service": ["portal"]}
    assert all(p["first"] and p["second"] for p in problem["pairs"])
    assert (await api.http.get("/problems", headers=api.auth("audrey"))).json()["items"][0][
        "terms"
    ] == problem["terms"]

    # An ops agent sees none of the desk's tickets: not them, their titles' terms, or assets.
    other = (await api.http.get(f"/problems/{problem['id']}", headers=api.auth("otto"))).json()
    assert other["tickets"] == []
    assert other["hidden_tickets"] == len(problem["tickets"])
    assert other["terms"] == []
    assert {(p["first"], p["second"]) for p in other["pairs"]} == {("", "")}
    assert other["assets"] == {}
    body = str(other)
    assert "login" not in body
    assert "portal" not in body
    for user in ("rita", "monitor"):
        refused = await api.http.get("/problems", headers=api.auth(user))
        assert refused.status_code == 403
        assert refused.headers["content-type"] == PROBLEM

    # Confirmed once, by a person; then its tickets and new similar ones name it.
    assert (
        await api.http.post(f"/problems/{problem['id']}/confirm", headers=api.auth("audrey"))
    ).status_code == 403
    confirmed = await api.http.post(
        f"/problems/{problem['id']}/confirm",
        json={"reason": "one gateway behind both"},
        headers=api.auth("dana"),
    )
    assert confirmed.status_code == 200, confirmed.text
    assert (confirmed.json()["status"], confirmed.json()["decided_by"]) == ("confirmed", "dana")
    for again in ("confirm", "dismiss"):
        twice = await api.http.post(f"/problems/{problem['id']}/{again}", headers=api.auth("dora"))
        assert twice.status_code == 409
    assert (
        await api.http.post("/problems/999999/dismiss", headers=api.auth("dana"))
    ).status_code == 404
    assert (await api.http.get("/problems?status=confirmed", headers=api.auth("dana"))).json()[
        "items"
    ][0]["id"] == problem["id"]
    assert (await api.http.get("/problems?status=dismissed", headers=api.auth("dana"))).json()[
        "items"
    ] == []

    linked = f"{api.prefix}-{sorted(caused)[0]}"
    detail = (await api.http.get(f"/tickets/{linked}", headers=api.auth("dana"))).json()
    assert [p["id"] for p in detail["problems"]] == [problem["id"]]
    fresh = await create_ticket(api, title="Portal login timeout again")
    assert [p["id"] for p in (await triage_view(api, fresh))["problems"]] == [problem["id"]]
    # The link is shown with the triage answer: to the requester of their own ticket as a
    # known problem, and the problem's details stay behind /problems, which they may not read.
    own = (await api.http.get(f"/tickets/{fresh}", headers=api.auth("rita"))).json()
    assert (
        await api.http.get(f"/tickets/{fresh}/triage", headers=api.auth("rita"))
    ).status_code == 200
    assert own["problems"] == [
        {
            "id": problem["id"],
            "linked_tickets": len(problem["tickets"]),
            "confirmed_at": own["problems"][0]["confirmed_at"],
        }
    ]
    unrelated = await create_ticket(api, title="Monitor flickers")
    assert (await triage_view(api, unrelated))["problems"] == []


async def test_a_dismissed_problem_stays_dismissed_when_scanned_again(api: Api) -> None:
    await publish_incident(api)
    tickets, _caused = history(datetime.now(UTC))
    await seed(api.sessions, api.prefix, tickets)
    await _scan(api)
    (problem,) = (await api.http.get("/problems", headers=api.auth("owner"))).json()["items"]
    dismissed = await api.http.post(
        f"/problems/{problem['id']}/dismiss",
        json={"reason": "two unrelated changes the same week"},
        headers=api.auth("owner"),
    )
    assert dismissed.status_code == 200, dismissed.text
    assert await _scan(api) == {
        "tickets": len(tickets),
        "candidates": 1,
        "proposed": 0,
        "updated": 0,
    }
    (again,) = (await api.http.get("/problems", headers=api.auth("owner"))).json()["items"]
    assert (again["status"], again["reason"]) == (
        "dismissed",
        "two unrelated changes the same week",
    )
    bad = await api.http.get("/problems?status=open&cursor=x", headers=api.auth("owner"))
    assert bad.status_code == 422
