"""Publishing the process language over HTTP: every problem at once, and the process drawn."""

from __future__ import annotations

import copy
import re
import xml.etree.ElementTree as ET
from typing import Any

import pytest

from tests.api.conftest import Api
from tests.api.helpers import NEEDS_DOT, PROBLEM, incident_document
from tests.domain.test_process_checks import VALID

ALLOWED = "crm.test"
OWNERS = "process-office"  # the department of the test user who publishes
INJECTION = '"]; click n0 call alert(1) <script>alert("x")</script> #quot; \\N & |x|'


@pytest.fixture
def crm_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    """The deployment allows calls to the CRM host (read by the app's settings)."""
    monkeypatch.setenv("TICKETFLOW_HTTP_ALLOWED_HOSTS", ALLOWED)


@pytest.fixture
async def crm_api(crm_allowed: None, api: Api) -> Api:
    """The API of a deployment whose http.request actions may call the CRM host."""
    return api


async def _publish_child(api: Api, key: str = "care", **changes: Any) -> dict[str, Any]:
    document = incident_document(key=key, key_prefix=api.prefix, department=OWNERS, **changes)
    response = await api.http.post("/definitions", json=document, headers=api.auth("owner"))
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def _repair(api: Api) -> dict[str, Any]:
    document = copy.deepcopy(VALID)
    document["key_prefix"] = api.prefix
    document["department"] = OWNERS
    # The child (the incident definition) takes a title.
    document["stages"][8]["subprocess"]["intake"] = {
        "title": "'follow-up of ' + ticket.key + ': ' + string(fields.total)"
    }
    return document


async def test_a_process_using_every_kind_publishes_with_pins(crm_api: Api) -> None:
    api = crm_api
    await _publish_child(api)
    await _publish_child(api)
    office = {"key": "plant", "title": "Plant", "timezone": "Europe/Berlin"}
    office["hours"] = {d: ["06:00-22:00"] for d in ("mon", "tue", "wed", "thu", "fri")}
    assert (await api.http.post("/calendars", json=office, headers=api.auth("owner"))).is_success
    document = _repair(api)
    document["stages"][6]["timer"]["calendar"] = "plant"
    response = await api.http.post("/definitions", json=document, headers=api.auth("owner"))
    assert response.status_code == 201, response.text
    stored = response.json()["document"]
    assert stored["stages"][8]["subprocess"]["definition"] == "care@2"
    assert stored["stages"][6]["timer"]["calendar"] == "plant@1"
    assert "plant@1" in stored["calendars"]


async def test_every_problem_is_a_422_with_its_pointer(crm_api: Api) -> None:
    api = crm_api
    document = _repair(api)
    stages = document["stages"]
    stages[0]["gateway"].pop("default")
    stages[0]["gateway"]["branches"][0]["when"] = "intake.sevrity == 'critical'"
    stages[2]["service"]["params"]["url"] = "https://evil.test/orders"
    stages[2]["service"]["params"]["method"] = "BREW"
    stages[2]["service"]["params"]["headers"] = {"X-Asset": "=intake.asset.tag", "X-N": 7}
    stages[5]["service"]["params"] = {"fields": {"total": "=1 +"}}
    stages[6]["timer"]["calendar"] = "nowhere"
    stages[8]["subprocess"]["definition"] = "ghost"
    response = await api.http.post("/definitions", json=document, headers=api.auth("owner"))
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
    found = {(e["pointer"], e["detail"]) for e in response.json()["errors"]}
    expected = {
        "/stages/0/gateway/default": "needs a default",
        "/stages/0/gateway/branches/0/when": "no field 'sevrity'",
        "/stages/2/service/params/url": "not on the allowed hosts",
        "/stages/2/service/params/method": "'BREW' is not one of",
        "/stages/2/service/params/headers/X-N": "is not of type 'string'",
        "/stages/5/service/params/fields/total": "not a valid expression",
        "/stages/6/timer/calendar": "unknown calendar nowhere",
        "/stages/8/subprocess/definition": "no published ghost",
    }
    for at, fragment in expected.items():
        assert any(p == at and fragment in d for p, d in found), (at, found)
    # An expression where a string belongs is checked as an expression, not as a type.
    assert not any(p == "/stages/2/service/params/headers/X-Asset" for p, _ in found)
    assert (await api.http.get("/definitions", headers=api.auth("owner"))).json() == []


async def test_without_the_allow_list_no_host_may_be_called(api: Api) -> None:
    await _publish_child(api)
    response = await api.http.post("/definitions", json=_repair(api), headers=api.auth("owner"))
    assert response.status_code == 422
    assert [e["pointer"] for e in response.json()["errors"]] == ["/stages/2/service/params/url"]


async def test_subprocesses_that_recurse_or_nest_too_deep_are_refused(crm_api: Api) -> None:
    api = crm_api

    def calling(key: str, child: str) -> dict[str, Any]:
        document = incident_document(key=key, key_prefix=api.prefix, department=OWNERS)
        document["stages"].append(
            {
                "key": "child",
                "title": "Child",
                "group": "ops",
                "kind": "subprocess",
                "depends_on": ["verify"],
                "subprocess": {"definition": child, "intake": {"title": "intake.title"}},
            }
        )
        return document

    async def post(document: dict[str, Any]) -> Any:
        return await api.http.post("/definitions", json=document, headers=api.auth("owner"))

    await _publish_child(api, key="p0")
    for n in range(1, 6):
        response = await post(calling(f"p{n}", f"p{n - 1}"))
        assert response.status_code == 201, response.text
    too_deep = await post(calling("p6", "p5"))
    assert too_deep.status_code == 422
    (problem,) = too_deep.json()["errors"]
    assert problem["pointer"] == "/stages/4/subprocess/definition"
    assert "nest 6 deep" in problem["detail"]

    # p1 calls p0; a new p0 calling p1 would start p0 again below itself.
    recursing = await post(calling("p0", "p1"))
    assert recursing.status_code == 422
    assert "recursion: p0 -> p1@1 -> p0@1" in recursing.json()["errors"][0]["detail"]
    itself = await post(calling("p0", "p0"))
    assert "cannot start itself" in itself.json()["errors"][0]["detail"]

    missing = calling("q", "p0")
    missing["stages"][4]["subprocess"]["intake"] = {"colour": "intake.title"}
    response = await post(missing)
    details = {e["detail"] for e in response.json()["errors"]}
    assert "p0's intake form has no field 'colour'" in details
    assert "p0's intake form requires 'title'" in details


async def _graph(api: Api, path: str, fmt: str, **kwargs: Any) -> Any:
    return await api.http.request(
        kwargs.pop("method", "GET"),
        path,
        params={"format": fmt},
        headers=api.auth(kwargs.pop("user", "dana")),
        **kwargs,
    )


@NEEDS_DOT
async def test_graph_of_a_published_version_in_each_format(crm_api: Api) -> None:
    api = crm_api
    await _publish_child(api)
    published = await api.http.post("/definitions", json=_repair(api), headers=api.auth("owner"))
    assert published.status_code == 201, published.text
    path = "/definitions/repair/versions/1/graph"

    data = (await _graph(api, path, "json")).json()
    assert [n["key"] for n in data["nodes"]][:3] == ["inspect", "approve", "order"]
    assert data["nodes"][2] == {
        "key": "order",
        "title": "Order parts",
        "kind": "service",
        "group": "procurement",
        "action": "http.request",
    }
    assert data["nodes"][0]["gateway"] == "exclusive"
    edges = {(e["from"], e["to"], e["type"]) for e in data["edges"]}
    assert {
        ("inspect", "approve", "branch"),
        ("inspect", "order", "default"),
        ("arrival", "chase", "timeout"),
        ("order", "arrival", "depends_on"),
    } <= edges
    branch = next(e for e in data["edges"] if e["type"] == "branch")
    assert branch["when"] == "intake.severity == 'critical'"
    assert "when" not in next(e for e in data["edges"] if e["type"] == "depends_on")

    text = await _graph(api, path, "mermaid")
    assert text.headers["content-type"].startswith("text/plain")
    lines = text.text.splitlines()
    assert lines[0] == "flowchart TD"
    shapes = [line[4:].split('"')[0] for line in lines[1:] if NODE_LINE.fullmatch(line)]
    assert shapes[:9] == ["n0[", "n1[", "n2([", "n3>", "n4[", "n5([", "n6((", "n7((", "n8[["]
    assert "    n0 -.->|" in text.text  # the default path, dashed

    drawn = await _graph(api, path, "svg")
    assert drawn.headers["content-type"] == "image/svg+xml"
    svg = ET.fromstring(drawn.content)
    assert svg.tag.endswith("svg")
    assert "Order parts" in "".join(svg.itertext())

    assert (await _graph(api, path, "png")).status_code == 422
    missing = await _graph(api, "/definitions/repair/versions/9/graph", "json")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == PROBLEM


async def test_a_draft_is_drawn_before_it_is_published(api: Api) -> None:
    draft = incident_document(key_prefix=api.prefix)
    response = await _graph(api, "/definitions/graph", "json", method="POST", json=draft)
    assert response.status_code == 200, response.text
    assert [n["key"] for n in response.json()["nodes"]] == ["triage", "diagnose", "fix", "verify"]
    assert (await api.http.get("/definitions", headers=api.auth("dana"))).json() == []
    draft["stages"][3]["depends_on"] = ["ghost"]
    bad = await _graph(api, "/definitions/graph", "mermaid", method="POST", json=draft)
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["pointer"] == "/stages/3/depends_on/0"


NODE_LINE = re.compile(r'    n\d+(\[|\(\[|>|\(\(|\[\[)"[^"]*"(\]|\]\)|\)\)|\]\])')
EDGE_LINE = re.compile(r'    n\d+ (-->|-\.->)(\|"[^"]*"\|)? n\d+')


def _decoded_mermaid_labels(text: str) -> list[str]:
    """The label texts of a Mermaid flowchart, entity codes decoded."""
    labels = []
    for line in text.splitlines()[1:]:
        # Each line is one node or one edge: nothing broke out of its label.
        assert NODE_LINE.fullmatch(line) or EDGE_LINE.fullmatch(line), line
        for quoted in re.findall(r'"([^"]*)"', line):
            assert not set(quoted.replace("<br/>", "")) & set("<>[]{}|`"), line
            labels.append(re.sub(r"#(\d+);", lambda m: chr(int(m.group(1))), quoted))
    return labels


@NEEDS_DOT
async def test_titles_and_conditions_cannot_inject_markup(api: Api) -> None:
    draft = incident_document(key_prefix=api.prefix)
    draft["stages"][0]["title"] = INJECTION
    draft["stages"][0]["gateway"] = {
        "type": "inclusive",
        "branches": [{"to": "fix", "when": 'intake.title == "</text><script>x</script>"'}],
    }
    mermaid = await _graph(api, "/definitions/graph", "mermaid", method="POST", json=draft)
    assert mermaid.status_code == 200, mermaid.text
    labels = _decoded_mermaid_labels(mermaid.text)
    assert labels[0].split("<br/>")[0] == INJECTION
    assert 'intake.title == "</text><script>x</script>"' in labels

    drawn = await _graph(api, "/definitions/graph", "svg", method="POST", json=draft)
    assert drawn.status_code == 200, drawn.text
    svg = ET.fromstring(drawn.content)  # well-formed: nothing closed an element early
    assert not [e for e in svg.iter() if e.tag.rsplit("}", 1)[-1] in ("script", "a")]
    texts = [t.text for t in svg.iter() if t.tag.endswith("text")]
    assert INJECTION in texts
    assert 'intake.title == "</text><script>x</script>"' in texts
