"""The permission-change report and least-privilege recommendations over HTTP."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from tests.api.access_helpers import file, grant, publish_sensitive
from tests.api.conftest import Api


async def test_permission_changes_report_as_json_and_csv(api: Api) -> None:
    rule: dict[str, Any] = {
        "subject": "role:agent",
        "domain": "*",
        "object": "ticket.notes",
        "action": "read",
    }
    await grant(api, **rule)
    await grant(api, add=False, **rule)
    report = await api.http.get("/audit/permissions", headers=api.auth("audrey"))
    assert report.status_code == 200, report.text
    entries = report.json()
    assert [(e["actor"], e["action"]) for e in entries] == [
        ("root", "add_policy"),
        ("root", "remove_policy"),
    ]
    assert entries[0]["before"] == {}
    assert entries[0]["after"]["object"] == "ticket.notes"
    assert entries[1]["prev_hash"] == entries[0]["hash"]
    assert entries[0]["reason"] == "test"
    later = await api.http.get(
        "/audit/permissions", params={"from": entries[1]["at"]}, headers=api.auth("audrey")
    )
    assert [e["seq"] for e in later.json()] == [2]
    as_csv = await api.http.get(
        "/audit/permissions", params={"format": "csv"}, headers=api.auth("root")
    )
    assert as_csv.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert json.loads(rows[1]["before"])["object"] == "ticket.notes"
    assert (await api.http.get("/audit/permissions", headers=api.auth("dana"))).status_code == 403
    bad = await api.http.get(
        "/audit/permissions", params={"from": "yesterday"}, headers=api.auth("audrey")
    )
    assert bad.status_code == 422


async def test_recommendations_narrow_wildcards_remove_unused_and_flag_restricted(
    api: Api,
) -> None:
    await publish_sensitive(api)
    key = (await file(api, "root", title="Payroll", notes="n", salary=1)).json()["key"]
    await grant(api, subject="role:auditor", domain="*", object="ticket.device_*", action="read")
    # Reads are sampled one in eight: enough reads make every field count.
    for _ in range(16):
        assert (
            await api.http.get(f"/tickets/{key}", headers=api.auth("audrey"))
        ).status_code == 200
    response = await api.http.get(
        "/policies/recommendations", params={"role": "auditor"}, headers=api.auth("root")
    )
    assert response.status_code == 200, response.text
    proposal = response.json()
    [narrow] = proposal["narrow_wildcards"]
    assert narrow["rule"]["object"] == "ticket.*"
    assert {"ticket.title", "ticket.notes"} <= set(narrow["used_objects"])
    assert "ticket.salary" not in narrow["used_objects"]
    assert [r["object"] for r in proposal["remove_unused"]] == ["ticket.device_*"]
    assert proposal["reads_restricted"] == []
    admin = await api.http.get(
        "/policies/recommendations", params={"role": "admin"}, headers=api.auth("root")
    )
    [flag] = admin.json()["reads_restricted"]
    assert flag["restricted_fields"] == ["salary"]
    policies = (await api.http.get("/policies", headers=api.auth("root"))).json()
    assert any(p["object"] == "ticket.device_*" for p in policies["policies"])
