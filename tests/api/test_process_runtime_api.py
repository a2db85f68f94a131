"""Automated stages as people and systems see them over HTTP: queues, decisions, signals for
waits, the path a ticket took, and a subprocess's parent and children."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.api.conftest import Api
from tests.api.helpers import PROBLEM

DESK = "service-desk"
# Not a number: the action computing from it fails, and its value must never be on the path.
CODE = "ZQSECRET"


def _runtime(api: Api) -> dict[str, Any]:
    """A gateway, an action that can fail, a wait for a part and a join after them."""
    return {
        "key": "runtime",
        "title": "Runtime",
        "key_prefix": api.prefix,
        "department": DESK,
        "intake_form": {
            "type": "object",
            "properties": {"title": {"type": "string"}, "code": {"type": "string"}},
        },
        "stages": [
            {
                "key": "triage",
                "title": "Triage",
                "group": DESK,
                "form": {"type": "object", "properties": {"severity": {"type": "string"}}},
                "gateway": {
                    "type": "exclusive",
                    "branches": [
                        {"to": "escalate", "when": "stages.triage.data.severity == 'high'"}
                    ],
                    "default": "compute",
                },
            },
            {"key": "escalate", "title": "Escalate", "group": DESK},
            {
                "key": "compute",
                "title": "Compute",
                "group": DESK,
                "kind": "service",
                "service": {
                    "action": "ticket.set_fields",
                    "params": {"fields": {"n": "=int(intake.code)"}},
                    "retry": {"maximum_attempts": 1},
                },
            },
            {
                "key": "part",
                "title": "Wait for the part",
                "group": DESK,
                "kind": "wait",
                "depends_on": ["compute"],
                "wait": {
                    "signal": "part-arrived",
                    "correlation": "signal.order == intake.code",
                    "timeout": "PT48H",
                },
            },
            {"key": "close", "title": "Close", "group": DESK, "depends_on": ["escalate", "part"]},
        ],
    }


async def _eventually(
    api: Api, path: str, user: str, check: Callable[[Any], bool]
) -> httpx.Response:
    """The answer once `check` holds of its JSON: automated stages run after the call."""
    for _ in range(300):
        response = await api.http.get(path, headers=api.auth(user))
        if response.status_code == 200 and check(response.json()):
            return response
        await asyncio.sleep(0.05)
    raise AssertionError(f"{path} never got there: {response.text}")


def _task(ticket: dict[str, Any], stage: str) -> dict[str, Any]:
    found: dict[str, Any] = next(t for t in ticket["tasks"] if t["stage_key"] == stage)
    return found


async def _file_runtime(api: Api) -> str:
    published = await api.http.post("/definitions", json=_runtime(api), headers=api.auth("owner"))
    assert published.status_code == 201, published.text
    filed = await api.http.post(
        "/tickets",
        json={"definition": "runtime", "data": {"title": "Broken pump", "code": CODE}},
        headers=api.auth("rita"),
    )
    assert filed.status_code == 201, filed.text
    key: str = filed.json()["key"]
    for step, body in (("claim", None), ("complete", {"data": {"severity": "low"}})):
        done = await api.http.post(
            f"/tickets/{key}/tasks/triage/{step}", json=body, headers=api.auth("dana")
        )
        assert done.status_code == 200, done.text
    return key


async def _post(api: Api, path: str, user: str, body: Any = None) -> httpx.Response:
    return await api.http.post(path, json=body, headers=api.auth(user))


async def test_a_failed_action_is_a_decision_in_its_group_queue(api: Api) -> None:
    key = await _file_runtime(api)
    ticket = await _eventually(
        api, f"/tickets/{key}", "dana", lambda t: _task(t, "compute")["status"] == "open"
    )
    compute = _task(ticket.json(), "compute")
    assert compute["kind"] == "service"
    assert "int" in compute["error"]
    queue = (await api.http.get("/tasks", headers=api.auth("dana"))).json()["items"]
    assert [t["stage_key"] for t in queue if t["ticket_key"] == key] == ["compute"]
    assert (await _post(api, f"/tickets/{key}/tasks/compute/claim", "dana")).status_code == 200

    complete = f"/tickets/{key}/tasks/compute/complete"
    cases = [
        ({}, "/data/decision"),
        ({"decision": "later"}, "/data/decision"),
        ({"decision": "skip"}, "/data/reason"),
        ({"decision": "skip", "reason": "  "}, "/data/reason"),
        ({"decision": "retry", "note": "x"}, "/data/note"),
    ]
    for data, at in cases:
        refused = await _post(api, complete, "dana", {"data": data})
        assert refused.status_code == 422, (data, refused.text)
        assert refused.headers["content-type"] == PROBLEM
        assert at in [p["pointer"] for p in refused.json()["errors"]], (data, refused.text)
    skipped = await _post(
        api, complete, "dana", {"data": {"decision": "skip", "reason": "by hand"}}
    )
    assert skipped.status_code == 200, skipped.text

    # The wait runs: nobody's queue lists it, and a person cannot claim or complete it.
    ticket = await _eventually(
        api, f"/tickets/{key}", "dana", lambda t: _task(t, "part")["status"] == "running"
    )
    part = _task(ticket.json(), "part")
    assert part["kind"] == "wait"
    assert part["until"]
    for user in ("dana", "root"):
        for statuses in ((), ("claimed",)):
            listed = await api.http.get(
                "/tasks/mine" if statuses else "/tasks", headers=api.auth(user)
            )
            assert all(t["status"] in ("open", "claimed") for t in listed.json()["items"])
            assert key not in {t["ticket_key"] for t in listed.json()["items"]}
    claimed = await _post(api, f"/tickets/{key}/tasks/part/claim", "dana")
    assert claimed.status_code == 409, claimed.text
    assert "running" in claimed.json()["detail"]
    assert "system" in claimed.json()["detail"]
    completed = await _post(api, f"/tickets/{key}/tasks/part/complete", "dana", {"data": {}})
    assert completed.status_code == 409, completed.text
    # A skipped stage is no one's either.
    escalate = await _post(api, f"/tickets/{key}/tasks/escalate/claim", "dana")
    assert escalate.status_code == 409
    assert "skipped" in escalate.json()["detail"]


async def test_a_wait_takes_its_declared_signal_and_a_forged_value_ends_nothing(api: Api) -> None:
    key = await _file_runtime(api)
    await _eventually(
        api, f"/tickets/{key}", "dana", lambda t: _task(t, "compute")["status"] == "open"
    )
    await _post(api, f"/tickets/{key}/tasks/compute/claim", "dana")
    await _post(
        api,
        f"/tickets/{key}/tasks/compute/complete",
        "dana",
        {"data": {"decision": "skip", "reason": "by hand"}},
    )
    await _eventually(
        api, f"/tickets/{key}", "dana", lambda t: _task(t, "part")["status"] == "running"
    )
    unknown = await _post(api, f"/tickets/{key}/signals/part-shipped", "monitor", {})
    assert unknown.status_code == 404
    assert "part-arrived" in unknown.json()["detail"]
    assert "customer_reply" in unknown.json()["detail"]
    forged = await _post(
        api, f"/tickets/{key}/signals/part-arrived", "monitor", {"payload": {"order": "other"}}
    )
    assert forged.status_code == 202, forged.text
    events = await _eventually(
        api,
        f"/tickets/{key}/events",
        "root",
        lambda es: any(e["type"] == "external_event" for e in es),
    )
    assert "wait_matched" not in [e["type"] for e in events.json()]
    ticket = (await api.http.get(f"/tickets/{key}", headers=api.auth("dana"))).json()
    assert _task(ticket, "part")["status"] == "running"

    matched = await _post(
        api, f"/tickets/{key}/signals/part-arrived", "monitor", {"payload": {"order": CODE}}
    )
    assert matched.status_code == 202
    ticket = await _eventually(
        api, f"/tickets/{key}", "dana", lambda t: _task(t, "close")["status"] == "open"
    )
    # The wait's data is the signal's payload: shown like the outside event that carried it.
    assert _task(ticket.json(), "part")["data"] == {"order": CODE}
    types = [
        e["type"]
        for e in (await api.http.get(f"/tickets/{key}/events", headers=api.auth("root"))).json()
    ]
    assert types.count("external_event") == 2
    assert types.count("wait_matched") == 1

    # The path: the gateway's default taken, the escalation skipped, the join reached.
    path = (await api.http.get(f"/tickets/{key}/path", headers=api.auth("dana"))).json()
    nodes = {n["key"]: n for n in path["nodes"]}
    assert {k: n["status"] for k, n in nodes.items()} == {
        "triage": "done",
        "escalate": "skipped",
        "compute": "done",
        "part": "done",
        "close": "open",
    }
    assert "triage chose compute" in nodes["escalate"]["reason"]
    edges = {(e["from"], e["to"]): e["state"] for e in path["edges"]}
    assert edges == {
        ("triage", "escalate"): "not_taken",
        ("triage", "compute"): "taken",
        ("compute", "part"): "taken",
        ("escalate", "close"): "not_taken",
        ("part", "close"): "taken",
    }
    branch = next(e for e in path["edges"] if e["type"] == "branch")
    assert branch["when"] == "stages.triage.data.severity == 'high'"
    drawn = await api.http.get(
        f"/tickets/{key}/path", params={"format": "mermaid"}, headers=api.auth("dana")
    )
    assert drawn.status_code == 200
    assert "linkStyle" in drawn.text
    assert "classDef done" in drawn.text
    for answer in (path, drawn.text):
        assert CODE not in str(answer)
        assert "by hand" not in str(answer)
    if shutil.which("dot"):
        svg = await api.http.get(
            f"/tickets/{key}/path", params={"format": "svg"}, headers=api.auth("dana")
        )
        assert svg.status_code == 200
        assert svg.text.lstrip().startswith("<?xml")
    # Whoever may not read the ticket learns nothing of it; its requester reads the path.
    assert (await api.http.get(f"/tickets/{key}/path", headers=api.auth("sam"))).status_code == 404
    assert (await api.http.get(f"/tickets/{key}/path", headers=api.auth("rita"))).status_code == 200

    # Reopened at triage and sent the other way: the path keeps the first round beside it.
    for step in ("claim", "complete"):
        body = {"data": {}} if step == "complete" else None
        done = await _post(api, f"/tickets/{key}/tasks/close/{step}", "dana", body)
        assert done.status_code == 200, done.text
    reopened = await _post(
        api, f"/tickets/{key}/reopen", "rita", {"reason": "it is worse", "stages": ["triage"]}
    )
    assert reopened.status_code == 200, reopened.text
    await _post(api, f"/tickets/{key}/tasks/triage/claim", "dana")
    await _post(
        api, f"/tickets/{key}/tasks/triage/complete", "dana", {"data": {"severity": "high"}}
    )
    await _eventually(
        api,
        f"/tickets/{key}",
        "dana",
        lambda t: ("escalate", "open") in {(x["stage_key"], x["status"]) for x in t["tasks"]},
    )
    path = (await api.http.get(f"/tickets/{key}/path", headers=api.auth("dana"))).json()
    rounds = {n["key"]: [r["status"] for r in n["rounds"]] for n in path["nodes"]}
    assert rounds["triage"] == ["done", "done"]
    assert rounds["escalate"] == ["skipped", "open"]
    assert rounds["compute"] == ["done", "skipped"]
    marks = {(e["from"], e["to"]): (e["state"], e["taken_in"]) for e in path["edges"]}
    assert marks[("triage", "escalate")] == ("taken", [2])
    assert marks[("triage", "compute")] == ("not_taken", [1])
    assert marks[("compute", "part")] == ("not_taken", [1])
    drawn = await api.http.get(
        f"/tickets/{key}/path", params={"format": "mermaid"}, headers=api.auth("dana")
    )
    assert "default (taken in round 1)" in drawn.text


def _parent(api: Api) -> dict[str, Any]:
    return {
        "key": "parent",
        "title": "Parent",
        "key_prefix": api.prefix,
        "department": DESK,
        "intake_form": {"type": "object", "properties": {"title": {"type": "string"}}},
        "stages": [
            {
                "key": "spawn",
                "title": "Spawn",
                "group": DESK,
                "kind": "subprocess",
                "subprocess": {
                    "definition": "care",
                    "intake": {"title": "'follow-up of ' + ticket.key"},
                },
            },
            {"key": "close", "title": "Close", "group": DESK, "depends_on": ["spawn"]},
        ],
    }


def _care(api: Api) -> dict[str, Any]:
    return {
        "key": "care",
        "title": "Care",
        "key_prefix": api.prefix[:-1] + "C",
        "department": "ops",
        "intake_form": {"type": "object", "properties": {"title": {"type": "string"}}},
        "stages": [{"key": "fix", "title": "Fix", "group": "ops"}],
    }


async def test_a_parent_lists_its_children_and_a_child_shows_its_parent(api: Api) -> None:
    for document in (_care(api), _parent(api)):
        published = await api.http.post("/definitions", json=document, headers=api.auth("owner"))
        assert published.status_code == 201, published.text
    filed = await _post(api, "/tickets", "rita", {"definition": "parent", "data": {"title": "P"}})
    assert filed.status_code == 201, filed.text
    key = filed.json()["key"]
    # A child started and not yet projected is named by its key alone at first.
    parent = await _eventually(
        api, f"/tickets/{key}", "root", lambda t: any("status" in c for c in t["children"])
    )
    [child] = parent.json()["children"]
    assert child["status"] == "open"
    assert child["definition_key"] == "care"
    child_key = child["key"]
    assert _task(parent.json(), "spawn")["child"] == child_key
    child_ticket = await _eventually(api, f"/tickets/{child_key}", "root", lambda t: "parent" in t)
    assert child_ticket.json()["parent"] == {
        "key": key,
        "stage": "spawn",
        "title": "P",
        "status": "open",
        "definition_key": "parent",
    }
    # The desk reads the parent but not the ops child: of the child, only its key.
    assert (
        await api.http.get(f"/tickets/{child_key}", headers=api.auth("dana"))
    ).status_code == 404
    desk = (await api.http.get(f"/tickets/{key}", headers=api.auth("dana"))).json()
    assert desk["children"] == [{"key": child_key}]
    # Ops reads the child but not the parent: of the parent, only its key.
    assert (await api.http.get(f"/tickets/{key}", headers=api.auth("otto"))).status_code == 404
    ops = (await api.http.get(f"/tickets/{child_key}", headers=api.auth("otto"))).json()
    assert ops["parent"] == {"key": key}


@pytest.mark.parametrize("user", ["rita", "owner"])
async def test_an_action_output_is_for_the_handlers(api: Api, user: str) -> None:
    document = _runtime(api)
    # The code is a number now: the action succeeds and its output is the stage's data.
    published = await api.http.post("/definitions", json=document, headers=api.auth("owner"))
    assert published.status_code == 201, published.text
    filed = await _post(
        api, "/tickets", "rita", {"definition": "runtime", "data": {"title": "T", "code": "41"}}
    )
    key = filed.json()["key"]
    await _post(api, f"/tickets/{key}/tasks/triage/claim", "dana")
    await _post(api, f"/tickets/{key}/tasks/triage/complete", "dana", {"data": {}})
    ticket = await _eventually(
        api, f"/tickets/{key}", "dana", lambda t: _task(t, "compute")["status"] == "done"
    )
    assert _task(ticket.json(), "compute")["data"] == {"n": 41}
    events = (await api.http.get(f"/tickets/{key}/events", headers=api.auth("dana"))).json()
    [completed] = [e for e in events if e["type"] == "service_completed"]
    assert completed["data"]["output"] == {"n": 41}
    # The requester and the process office read the tasks, not what the action brought in.
    theirs = (await api.http.get(f"/tickets/{key}", headers=api.auth(user))).json()
    assert "data" not in _task(theirs, "compute")
    events = (await api.http.get(f"/tickets/{key}/events", headers=api.auth(user))).json()
    [completed] = [e for e in events if e["type"] == "service_completed"]
    assert "output" not in completed["data"]
