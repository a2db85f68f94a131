"""After-sales care through `ticketflow dev` over real HTTP: repaired, closed, surveyed, rated.

A process owner publishes the after-sales repair template and a care strategy (a survey a few
seconds after close), and opts the definition in. The care department records a customer and
their consent to care messages; the customer's repair is booked, done and confirmed. The care
workflow posts the survey to a webhook this test serves; its feedback link rates the ticket
once, and the rating shows in the KPIs, on the ticket and in its evidence trace.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.devstack_util import HOST, dev_stack
from tests.test_end_to_end import add_user
from tests.test_process_end_to_end import crm_stub, eventually

pytestmark = pytest.mark.e2e

USERS = {
    "paula": ("customer-service", "process_owner"),
    "cora": ("customer-service", "agent"),
    "fred": ("field-service", "agent"),
    "carla": ("customer-care", "agent"),
    "rita": ("sales", "requester"),
    "audrey": ("audit", "auditor"),
}
STRATEGY = {
    "key": "after-repair",
    "title": "After a repair",
    "rules": [{"name": "everyone", "actions": [{"action": "survey", "delay": "PT3S"}]}],
}
INTAKE = {
    "customer_id": "C-100",
    "customer_name": "王芳",
    "phone": "13800138000",
    "address": "上海市浦东新区张江路 88 号 3 栋 1201",
    "device_sn": "WM8-2023-0045871",
    "description": "洗衣机脱水时报错 E21，滚筒不转。",
}


class Client:
    """API calls as the test's users; anything but a 2xx fails the test with the problem."""

    def __init__(self, http: httpx.Client, tokens: dict[str, str]) -> None:
        self.http = http
        self.tokens = tokens

    def call(self, user: str, method: str, path: str, **kwargs: Any) -> Any:
        """One call as `user`, answering its JSON body."""
        response = self.http.request(
            method, path, headers={"Authorization": f"Bearer {self.tokens[user]}"}, **kwargs
        )
        assert response.status_code < 300, (method, path, response.status_code, response.text)
        return response.json()


def test_a_closed_repair_is_surveyed_through_the_webhook_and_rated_in_the_kpis(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    with crm_stub() as (webhook, received):
        env = {
            "TICKETFLOW_HTTP_ALLOWED_HOSTS": urlsplit(webhook).netloc,
            "TICKETFLOW_CARE_WEBHOOK_URL": webhook,
        }
        with dev_stack(tmp_path, data_dir, "care-e2e", env=env) as stack:
            tokens = {name: add_user(data_dir, name, *how) for name, how in USERS.items()}
            base = f"http://{HOST}:{stack.api_port}"
            with httpx.Client(base_url=base, timeout=30, trust_env=False) as http:
                drive(Client(http, tokens), http, received)


def drive(api: Client, http: httpx.Client, received: list[dict[str, Any]]) -> None:
    """Publish, opt in, record the customer, repair, close; then follow the care."""
    api.call("paula", "POST", "/definitions/from-template", json={"template": "after-sales-repair"})
    api.call("paula", "POST", "/care/strategies", json=STRATEGY)
    published = api.call("paula", "GET", "/definitions/after-sales-repair")
    document = {
        k: v
        for k, v in published["document"].items()
        if k not in ("version", "calendars", "care", "template", "intake_form")
    }
    opted = api.call(
        "paula", "POST", "/definitions", json={**document, "care": {"strategy": "after-repair"}}
    )
    assert opted["document"]["care"]["version"] == 1

    api.call("carla", "POST", "/customers", json={"id": "C-100", "name": "王芳", "tier": "vip"})
    api.call(
        "carla",
        "POST",
        "/customers/C-100/consents",
        json={"purpose": "care_messages", "channel": "phone", "text": "May we follow up?"},
    )

    key = api.call(
        "rita", "POST", "/tickets", json={"definition": "after-sales-repair", "data": INTAKE}
    )["key"]
    booking = {
        "warranty": "in-warranty",
        "visit_window": {"start": "2026-12-02T09:00:00+08:00", "end": "2026-12-02T12:00:00+08:00"},
    }
    for user, stage, data in (
        ("cora", "booking", booking),
        (
            "fred",
            "repair",
            {"work_report": "更换霍尔传感器，试运行正常。", "fixed": True, "satisfaction": 5},
        ),
    ):
        api.call(user, "POST", f"/tickets/{key}/tasks/{stage}/claim")
        api.call(user, "POST", f"/tickets/{key}/tasks/{stage}/complete", json={"data": data})
    api.call("rita", "POST", f"/tickets/{key}/confirm", json={"comment": "works again"})

    (survey,) = eventually(lambda: list(received), "the survey at the webhook")
    assert (survey["action"], survey["ticket_key"]) == ("survey", key)
    link = urlsplit(survey["feedback_url"])
    assert link.path.startswith("/feedback/")
    # The link is the customer's, no account needed; it works once.
    rating = {"csat": 4, "nps": 9, "comment": "quick and friendly"}
    assert http.post(link.path, json=rating).status_code == 201
    assert http.post(link.path, json=rating).status_code == 404

    kpis = api.call("audrey", "GET", "/kpis", params={"definition": "after-sales-repair"})
    overall = kpis["feedback"]["overall"]
    assert overall["csat"]["count"] == overall["nps"]["count"] == 1
    assert overall["nps"]["score"] == 100.0
    detail = api.call("audrey", "GET", f"/tickets/{key}")
    assert (detail["feedback"]["csat"], detail["feedback"]["solution"]["stage"]) == (4, "repair")
    trace = api.call("audrey", "GET", f"/tickets/{key}/trace")
    assert [r["nps"] for r in trace["data"]["rating"]] == [9]
    timeline = api.call("audrey", "GET", f"/tickets/{key}/events")
    sent = [e["data"] for e in timeline if e["type"] == "care_action"]
    assert [(s["action"], s["outcome"]) for s in sent] == [("survey", "sent")]
