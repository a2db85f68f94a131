"""A ticket's whole life through `ticketflow dev` over real HTTP, seen in Temporal too."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.devstack_util import HOST, dev_stack, temporal_cli

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
    "diagnose": {
        "root_cause": "load balancer health check points at a removed path",
        "packet_capture": "https://files.example.com/captures/lb-502.pcap",
    },
    "fix": {"commit_id": "9f1c2ab", "test_case": "tests/test_health.py::test_lb_path"},
    "verify": {"service_restored": True, "verified_at": "2026-11-25T10:00:00Z"},
}
WORKERS = {"dana": "service-desk", "otto": "ops", "devi": "dev"}


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


def test_ticket_life_over_http_on_the_dev_stack(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with dev_stack(tmp_path, data_dir, "e2e") as stack:
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

            def work(user: str, stage: str) -> None:
                call(user, "POST", f"/tickets/{key}/tasks/{stage}/claim")
                call(
                    user,
                    "POST",
                    f"/tickets/{key}/tasks/{stage}/complete",
                    json={"data": STAGE_DATA[stage]},
                )

            work("dana", "triage")
            assert [t["stage_key"] for t in call("otto", "GET", "/tasks")["items"]] == ["diagnose"]
            assert [t["stage_key"] for t in call("devi", "GET", "/tasks")["items"]] == ["fix"]
            work("otto", "diagnose")
            work("devi", "fix")
            work("dana", "verify")
            assert call("rita", "GET", f"/tickets/{key}")["status"] == "resolved"
            closed = call("rita", "POST", f"/tickets/{key}/confirm", json={"comment": "works"})
            assert closed["status"] == "closed"
            events = call("dana", "GET", f"/tickets/{key}/events")
            assert [e["type"] for e in events][-2:] == ["resolved", "closed"]

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
        # opened + 4 claims + 4 completions + confirm
        assert len(updates) == 10
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
