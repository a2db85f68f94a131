"""Every stage kind through `ticketflow dev` over real HTTP: three tickets, three paths.

One definition has a human task with an exclusive gateway, a supervisor's approval on one
branch, an `http.request` to a CRM this test serves, a `ticket.set_fields` stage with an
inclusive gateway, a wait for a correlated signal with a timeout path, a calendar-time timer
and a subprocess of a second definition. The timeline of each ticket must say which branches
it took and which it skipped, and what the CRM answered.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.devstack_util import HOST, dev_stack
from tests.test_end_to_end import add_user

pytestmark = pytest.mark.e2e

# Long enough for the test to post the matching signal, short enough to wait out once.
WAIT_TIMEOUT_SECONDS = 15
PATH_TIMEOUT = 90.0

CHILD: dict[str, Any] = {
    "key": "e2e-audit",
    "title": "Cost audit",
    "key_prefix": "AU",
    "department": "ops",
    # The child closes as soon as it is resolved, which completes the parent's stage.
    "confirmation": {"timeout_hours": 0},
    "intake_form": {
        "type": "object",
        "required": ["parent", "total"],
        "properties": {"parent": {"type": "string"}, "total": {"type": "number"}},
    },
    "stages": [
        {
            "key": "audit",
            "title": "Audit the cost",
            "group": "ops",
            "form": {
                "type": "object",
                "required": ["approved"],
                "properties": {"approved": {"type": "boolean"}},
            },
        }
    ],
}


def flow(crm_url: str) -> dict[str, Any]:
    """The definition using every kind; `crm_url` is the test's CRM stub."""
    return {
        "key": "e2e-flow",
        "title": "Every kind",
        "key_prefix": "EF",
        "department": "ops",
        "intake_form": {
            "type": "object",
            "required": ["severity", "order"],
            "properties": {
                "severity": {"type": "string", "enum": ["critical", "normal"]},
                "order": {"type": "string"},
            },
        },
        "stages": [
            {
                "key": "triage",
                "title": "Triage",
                "group": "ops",
                "form": {
                    "type": "object",
                    "required": ["cost", "needs_part"],
                    "properties": {"cost": {"type": "number"}, "needs_part": {"type": "boolean"}},
                },
                "gateway": {
                    "type": "exclusive",
                    "branches": [{"to": "approve", "when": "intake.severity == 'critical'"}],
                    "default": "crm",
                },
            },
            {
                "key": "approve",
                "title": "Approve",
                "group": "supervisors",
                "form": {
                    "type": "object",
                    "required": ["approved"],
                    "properties": {"approved": {"type": "boolean"}},
                },
            },
            {
                "key": "crm",
                "title": "Open a CRM case",
                "group": "ops",
                "kind": "service",
                "depends_on": ["approve"],
                "service": {
                    "action": "http.request",
                    "params": {
                        "url": crm_url,
                        "method": "POST",
                        "body": {"ticket": "=ticket.key", "severity": "=intake.severity"},
                        "select": {"case_id": "/id"},
                    },
                    "timeout": "PT10S",
                },
            },
            {
                "key": "compute",
                "title": "Compute the total",
                "group": "ops",
                "kind": "service",
                "depends_on": ["crm"],
                "service": {
                    "action": "ticket.set_fields",
                    "params": {
                        "fields": {
                            "total": "=stages.triage.data.cost * 2.0",
                            "case": "=stages.crm.data.case_id",
                        }
                    },
                },
                "gateway": {
                    "type": "inclusive",
                    "branches": [
                        {"to": "part", "when": "stages.triage.data.needs_part"},
                        {"to": "audit", "when": "stages.triage.data.cost > 100.0"},
                    ],
                },
            },
            {
                "key": "part",
                "title": "Wait for the part",
                "group": "ops",
                "kind": "wait",
                "wait": {
                    "signal": "part-arrived",
                    "correlation": "signal.order == intake.order",
                    "timeout": f"PT{WAIT_TIMEOUT_SECONDS}S",
                    "on_timeout": "chase",
                },
            },
            {"key": "chase", "title": "Chase the supplier", "group": "ops", "form": _done_form()},
            {
                "key": "audit",
                "title": "Cost audit",
                "group": "ops",
                "kind": "subprocess",
                "subprocess": {
                    "definition": "e2e-audit",
                    "intake": {"parent": "ticket.key", "total": "fields.total"},
                },
            },
            {
                "key": "cool",
                "title": "Cool down",
                "group": "ops",
                "kind": "timer",
                "depends_on": ["compute"],
                "timer": {"duration": "PT2S"},
            },
            {
                "key": "close",
                "title": "Close out",
                "group": "ops",
                "depends_on": ["part", "chase", "audit", "cool"],
                "form": _done_form(),
            },
        ],
    }


def _done_form() -> dict[str, Any]:
    return {"type": "object", "required": ["done"], "properties": {"done": {"const": True}}}


@contextmanager
def crm_stub() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A CRM on a loopback port: answers each POST with a new case id; yields (url, bodies)."""
    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers["Content-Length"])
            received.append(json.loads(self.rfile.read(length)))
            answer = json.dumps({"id": f"CASE-{len(received)}"}).encode()
            self.send_response(201)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the test reads what the CRM received instead."""

    server = ThreadingHTTPServer((HOST, 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{HOST}:{server.server_port}/cases", received
    finally:
        server.shutdown()
        server.server_close()


def eventually(probe: Callable[[], Any], what: str, timeout: float = PATH_TIMEOUT) -> Any:
    """Poll `probe` until it returns something truthy; fail naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        found = probe()
        if found:
            return found
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


USERS = {
    "paula": ("ops", "process_owner"),
    "otto": ("ops", "agent"),
    "sam": ("supervisors", "agent"),
    "rita": ("sales", "requester"),
    "erp": ("purchasing", "system"),
}


def test_every_kind_over_http_on_the_dev_stack(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with crm_stub() as (crm_url, crm_bodies):
        allowed = {"TICKETFLOW_HTTP_ALLOWED_HOSTS": crm_url.split("/")[2]}
        with dev_stack(tmp_path, data_dir, "process-e2e", env=allowed) as stack:
            tokens = {name: add_user(data_dir, name, *how) for name, how in USERS.items()}
            base = f"http://{HOST}:{stack.api_port}"
            with httpx.Client(base_url=base, timeout=30, trust_env=False) as http:
                Driver(http, tokens).run(crm_url, crm_bodies)


class Driver:
    """Publishes, files and works the three tickets as their people would."""

    def __init__(self, http: httpx.Client, tokens: dict[str, str]) -> None:
        self.http = http
        self.tokens = tokens

    def call(self, user: str, method: str, path: str, **kwargs: Any) -> Any:
        """One API call as `user`; anything but a 2xx fails the test with the problem."""
        response = self.http.request(
            method, path, headers={"Authorization": f"Bearer {self.tokens[user]}"}, **kwargs
        )
        assert response.status_code < 300, (method, path, response.status_code, response.text)
        return response.json()

    def events(self, key: str) -> list[dict[str, Any]]:
        """The ticket's business timeline."""
        events: list[dict[str, Any]] = self.call("otto", "GET", f"/tickets/{key}/events")
        return events

    def of(self, key: str, kind: str) -> list[dict[str, Any]]:
        """The data of the ticket's events of one type, in order."""
        return [e["data"] for e in self.events(key) if e["type"] == kind]

    def task(self, key: str, stage: str) -> dict[str, Any] | None:
        """The ticket's latest task for `stage`, or None."""
        tasks = self.call("otto", "GET", f"/tickets/{key}")["tasks"]
        found = [t for t in tasks if t["stage_key"] == stage]
        return found[-1] if found else None

    def until_status(self, key: str, status: str) -> None:
        """Wait until the requester sees the ticket in `status`."""
        eventually(
            lambda: self.call("rita", "GET", f"/tickets/{key}")["status"] == status,
            f"{key} {status}",
        )

    def work(self, user: str, key: str, stage: str, data: dict[str, Any]) -> None:
        """Wait until the stage's task is open, then claim and complete it."""
        eventually(
            lambda: (self.task(key, stage) or {}).get("status") == "open", f"{key} {stage} open"
        )
        self.call(user, "POST", f"/tickets/{key}/tasks/{stage}/claim")
        self.call(user, "POST", f"/tickets/{key}/tasks/{stage}/complete", json={"data": data})

    def run(self, crm_url: str, crm_bodies: list[dict[str, Any]]) -> None:
        """The whole scenario."""
        self.call("paula", "POST", "/definitions", json=CHILD)
        self.call("paula", "POST", "/definitions", json=flow(crm_url))

        def file(severity: str, order: str) -> str:
            intake = {"severity": severity, "order": order}
            body = {"definition": "e2e-flow", "data": intake}
            key: str = self.call("rita", "POST", "/tickets", json=body)["key"]
            return key

        # critical: approval, a part that arrives; normal and costly: the audit child;
        # normal with a part nobody delivers: the wait times out and the supplier is chased.
        approved, audited, chased = (
            file("critical", "PO-1"),
            file("normal", "PO-2"),
            file("normal", "PO-3"),
        )
        self.work("otto", approved, "triage", {"cost": 50.0, "needs_part": True})
        self.work("otto", audited, "triage", {"cost": 500.0, "needs_part": False})
        self.work("otto", chased, "triage", {"cost": 10.0, "needs_part": True})
        self.work("sam", approved, "approve", {"approved": True})

        # A goods receipt for another order leaves the wait alone; the right one ends it.
        eventually(lambda: self.of(approved, "wait_started"), f"{approved} waiting")
        signal = f"/tickets/{approved}/signals/part-arrived"
        self.call("erp", "POST", signal, json={"payload": {"order": "PO-3"}})
        self.call("erp", "POST", signal, json={"payload": {"order": "PO-1"}})

        child = eventually(lambda: self.of(audited, "subprocess_started"), "the child")[0]
        assert child["definition"] == "e2e-audit@1"
        self.work("otto", child["child"], "audit", {"approved": True})

        self.work("otto", chased, "chase", {"done": True})
        for key in (approved, audited, chased):
            self.work("otto", key, "close", {"done": True})
            self.until_status(key, "resolved")
            closed = self.call("rita", "POST", f"/tickets/{key}/confirm", json={})
            assert closed["status"] == "closed"

        self.check_approved(approved)
        self.check_audited(audited, child["child"])
        self.check_chased(chased)
        assert sorted(b["ticket"] for b in crm_bodies) == sorted([approved, audited, chased])
        assert {b["ticket"]: b["severity"] for b in crm_bodies}[approved] == "critical"

    def decisions(self, key: str) -> dict[str, tuple[list[str], bool]]:
        """Each gateway's stage -> (the stages it took, whether by default)."""
        return {d["stage"]: (d["taken"], d["default"]) for d in self.of(key, "gateway_decided")}

    def skipped(self, key: str) -> set[str]:
        """The stages the ticket skipped."""
        return {d["stage"] for d in self.of(key, "stage_skipped")}

    def crm_output(self, key: str) -> dict[str, Any]:
        """What the CRM stage stored: the response status and the case id it selected."""
        (completed,) = [d for d in self.of(key, "service_completed") if d["stage"] == "crm"]
        assert completed["action"] == "http.request"
        output: dict[str, Any] = completed["output"]
        return output

    def check_approved(self, key: str) -> None:
        """Approval branch, the part arrived, no audit."""
        assert self.decisions(key) == {"triage": (["approve"], False), "compute": (["part"], False)}
        assert self.skipped(key) == {"chase", "audit"}
        assert self.crm_output(key)["status"] == 201
        assert self.crm_output(key)["case_id"].startswith("CASE-")
        (matched,) = self.of(key, "wait_matched")
        assert matched["signal"] == "part-arrived"
        assert self.of(key, "wait_timed_out") == []
        assert [d["stage"] for d in self.of(key, "timer_fired")] == ["cool"]

    def check_audited(self, key: str, child: str) -> None:
        """Default branch, the audit child ran and closed, no part."""
        assert self.decisions(key) == {"triage": (["crm"], True), "compute": (["audit"], False)}
        assert self.skipped(key) == {"approve", "part", "chase"}
        (closed,) = self.of(key, "subprocess_closed")
        assert (closed["child"], closed["status"]) == (child, "closed")
        (created,) = self.of(child, "created")
        assert created["parent"] == {"key": key, "stage": "audit"}
        sets = [d for d in self.of(key, "service_completed") if d["stage"] == "compute"]
        assert sets[0]["output"]["total"] == 1000.0

    def check_chased(self, key: str) -> None:
        """Default branch, the wait timed out onto the chase path."""
        assert self.decisions(key) == {"triage": (["crm"], True), "compute": (["part"], False)}
        assert self.skipped(key) == {"approve", "audit"}
        (timed_out,) = self.of(key, "wait_timed_out")
        assert timed_out["signal"] == "part-arrived"
        assert self.of(key, "wait_matched") == []
        assert self.task(key, "chase") is not None
