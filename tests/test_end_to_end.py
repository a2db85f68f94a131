"""A ticket's whole life through `ticketflow dev` over real HTTP, seen in Temporal too.

The bundled IT incident's contracts are met as in production: ops uploads a packet capture,
dev uploads the regression test, and the fix's commit arrives by a push signed like GitHub's.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.devstack_util import HOST, dev_stack, temporal_cli
from tests.domain.test_deliverables import pcap_bytes

pytestmark = pytest.mark.e2e

INTAKE = {
    "title": "Payroll portal returns 502",
    "description": "Since 09:10 every login to the payroll portal ends in a 502.",
    "severity": "high",
    "affected_service": "payroll-portal",
    "reporter_email": "rita@example.com",
}
STAGE_DATA: dict[str, dict[str, Any]] = {
    "triage": {"category": "application", "priority": "P2"},
    "diagnose": {"root_cause": "load balancer health check points at a removed path"},
    "fix": {"change": "Point the health check at /healthz again."},
    "verify": {"service_restored": True, "verified_at": "2026-11-25T10:00:00Z"},
}
WORKERS = {"dana": "service-desk", "otto": "ops", "devi": "dev"}
WEBHOOK_SECRET = "e2e-webhook-secret-0123456789abcdef"
COMMIT = "9f1c2ab" + "4" * 33
TEST_CASE = b"def test_lb_path(client):\n    assert client.get('/healthz').status_code == 200\n"
# How long the pushed commit may take to show among the fix's versions (a signal is handled
# after its delivery is answered); a bound on the wait, not a measured figure.
COMMIT_WAIT = 60.0


def add_user(data_dir: Path, name: str, department: str, role: str) -> str:
    """`ticketflow users add` as an operator would run it; returns the printed token."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "ticketflow",
            "users",
            "add",
            name,
            "--department",
            department,
            "--role",
            role,
        ],
        env={**os.environ, "TICKETFLOW_DATA_DIR": str(data_dir)},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout.strip()


def github_push(key: str) -> tuple[bytes, dict[str, str]]:
    """A push of the fix's commit, with the headers GitHub sends (signed with the secret)."""
    body = json.dumps(
        {
            "ref": "refs/heads/main",
            "repository": {"full_name": "ops/lb", "html_url": "https://github.test/ops/lb"},
            "commits": [
                {
                    "id": COMMIT,
                    "message": f"{key}: point the health check at /healthz",
                    "url": f"https://github.test/ops/lb/commit/{COMMIT}",
                    "author": {"name": "Devi", "email": "devi@example.com"},
                }
            ],
        }
    ).encode()
    digest = hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
    headers = {
        "Content-Type": "application/json",
        "X-GitHub-Event": "push",
        "X-GitHub-Delivery": "e2e-delivery-1",
        "X-Hub-Signature-256": f"sha256={digest}",
    }
    return body, headers


def test_ticket_life_over_http_on_the_dev_stack(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = {"TICKETFLOW_GIT_WEBHOOK_SECRET": WEBHOOK_SECRET}
    with dev_stack(tmp_path, data_dir, "e2e", env=env) as stack:
        tokens = {name: add_user(data_dir, name, dept, "agent") for name, dept in WORKERS.items()}
        tokens["rita"] = add_user(data_dir, "rita", "sales", "requester")
        base = f"http://{HOST}:{stack.api_port}"
        with httpx.Client(base_url=base, timeout=30, trust_env=False) as http:

            def call(user: str, method: str, path: str, **kwargs: Any) -> Any:
                response = http.request(
                    method, path, headers={"Authorization": f"Bearer {tokens[user]}"}, **kwargs
                )
                assert response.status_code < 300, (method, path, response.text)
                return response.json()

            definitions = call("dana", "GET", "/definitions")
            assert {"it-incident", "equipment-repair", "after-sales-repair"} <= {
                d["key"] for d in definitions
            }

            key = call(
                "rita", "POST", "/tickets", json={"definition": "it-incident", "data": INTAKE}
            )["key"]
            assert key == "IT-000001"

            def complete(user: str, stage: str) -> httpx.Response:
                return http.post(
                    f"/tickets/{key}/tasks/{stage}/complete",
                    headers={"Authorization": f"Bearer {tokens[user]}"},
                    json={"data": STAGE_DATA[stage]},
                )

            def work(user: str, stage: str) -> None:
                call(user, "POST", f"/tickets/{key}/tasks/{stage}/claim")
                completed = complete(user, stage)
                assert completed.status_code == 200, (stage, completed.text)

            def upload(user: str, path: str, name: str, content: bytes) -> httpx.Response:
                return http.post(
                    f"/tickets/{key}/deliverables/{path}",
                    headers={"Authorization": f"Bearer {tokens[user]}"},
                    files={"file": (name, content, "application/octet-stream")},
                )

            work("dana", "triage")
            assert [t["stage_key"] for t in call("otto", "GET", "/tasks")["items"]] == ["diagnose"]
            assert [t["stage_key"] for t in call("devi", "GET", "/tasks")["items"]] == ["fix"]

            # Ops: no completion without the capture; a text file named .pcap is none.
            call("otto", "POST", f"/tickets/{key}/tasks/diagnose/claim")
            refused = complete("otto", "diagnose")
            assert refused.status_code == 409, refused.text
            assert [e["pointer"] for e in refused.json()["errors"]] == ["/deliverables/capture"]
            text = upload("otto", "diagnose/capture", "lb.pcap", b"not a capture\n")
            assert text.status_code == 415, text.text
            capture = pcap_bytes(5)
            assert upload("otto", "diagnose/capture", "lb.pcap", capture).status_code == 200
            assert complete("otto", "diagnose").status_code == 200

            # Dev: the regression test uploaded as code, the commit pushed by the git server.
            call("devi", "POST", f"/tickets/{key}/tasks/fix/claim")
            assert upload("devi", "fix/test_case", "test_lb.py", TEST_CASE).status_code == 200
            missing = complete("devi", "fix")
            assert missing.status_code == 409, missing.text
            assert [e["pointer"] for e in missing.json()["errors"]] == ["/deliverables/commit"]
            body, signed = github_push(key)
            forged = http.post(
                "/integrations/git/webhook",
                content=body,
                headers={**signed, "X-Hub-Signature-256": "sha256=" + "0" * 64},
            )
            assert forged.status_code == 401, forged.text
            pushed = http.post("/integrations/git/webhook", content=body, headers=signed)
            assert pushed.status_code == 202, pushed.text
            assert pushed.json()["signalled"] == [{"ticket": key, "sha": COMMIT}]
            deadline = time.monotonic() + COMMIT_WAIT
            while not call("devi", "GET", f"/tickets/{key}/deliverables/fix/commit/versions")[
                "items"
            ]:
                assert time.monotonic() < deadline, "the pushed commit was never attached"
                time.sleep(0.2)
            assert complete("devi", "fix").status_code == 200
            work("dana", "verify")

            downloaded = http.get(
                f"/tickets/{key}/deliverables/diagnose/capture/versions/1",
                headers={"Authorization": f"Bearer {tokens['dana']}"},
            )
            assert downloaded.content == capture
            assert downloaded.headers["content-type"] == "application/vnd.tcpdump.pcap"
            [commit] = call("dana", "GET", f"/tickets/{key}/deliverables/fix/commit/versions")[
                "items"
            ]
            assert (commit["value"], commit["author"]) == (COMMIT, "git")
            assert call("rita", "GET", f"/tickets/{key}")["status"] == "resolved"
            closed = call("rita", "POST", f"/tickets/{key}/confirm", json={"comment": "works"})
            assert closed["status"] == "closed"
            events = call("dana", "GET", f"/tickets/{key}/events")
            # The close's own projection records the 30-day recurrence watch.
            assert [e["type"] for e in events][-3:] == [
                "resolved",
                "closed",
                "recurrence_watch_started",
            ]

        # A closed ticket's workflow completes at once: its watch is a row, not a workflow.
        temporal_cli(stack.temporal_port, "workflow", "result", "--workflow-id", key)
        described = json.loads(
            temporal_cli(
                stack.temporal_port,
                "workflow",
                "describe",
                "--workflow-id",
                key,
                "--output",
                "json",
            )
        )
        assert described["workflowExecutionInfo"]["status"] == "WORKFLOW_EXECUTION_STATUS_COMPLETED"
        shown = temporal_cli(
            stack.temporal_port, "workflow", "show", "--workflow-id", key, "--output", "json"
        )
        history = json.loads(shown)["events"]
        assert history[0]["eventType"] == "EVENT_TYPE_WORKFLOW_EXECUTION_STARTED"
        assert history[-1]["eventType"] == "EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED"
        updates = [
            e for e in history if e["eventType"] == "EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED"
        ]
        # opened + 4 claims + 4 completions + 2 uploads + confirm; refused ones leave nothing
        assert len(updates) == 12
        signals = [
            e["workflowExecutionSignaledEventAttributes"]["signalName"]
            for e in history
            if e["eventType"] == "EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED"
        ]
        assert signals == ["git_commit"]  # the forged delivery signalled nothing
        by_state = temporal_cli(
            stack.temporal_port,
            "workflow",
            "list",
            "--query",
            'TicketflowState="closed" AND TicketflowDefinition="it-incident"',
            "--output",
            "json",
        )
        assert [w["execution"]["workflowId"] for w in json.loads(by_state)] == [key]
        assert stack.stop() == 0
