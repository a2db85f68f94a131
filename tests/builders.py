"""Small builders for definitions and actors used across tests."""

from __future__ import annotations

from typing import Any

from domain.definitions import ProcessDefinition
from domain.ticket import Actor

INCIDENT: dict[str, Any] = {
    "key": "incident",
    "version": 1,
    "title": "IT incident",
    "key_prefix": "INC",
    "department": "service-desk",
    "intake_form": {
        "type": "object",
        "required": ["title"],
        "properties": {
            "title": {"type": "string", "minLength": 3},
            "email": {"type": "string", "format": "email"},
        },
    },
    "stages": [
        {"key": "triage", "title": "Triage", "group": "service-desk"},
        {
            "key": "diagnose",
            "title": "Diagnose",
            "group": "ops",
            "depends_on": ["triage"],
            "form": {
                "type": "object",
                "required": ["root_cause"],
                "properties": {"root_cause": {"type": "string", "minLength": 1}},
            },
        },
        {
            "key": "fix",
            "title": "Fix",
            "group": "dev",
            "depends_on": ["triage"],
            "form": {
                "type": "object",
                "required": ["commit"],
                "properties": {"commit": {"type": "string", "pattern": "^[0-9a-f]{7,40}$"}},
            },
        },
        {
            "key": "verify",
            "title": "Verify",
            "group": "service-desk",
            "depends_on": ["diagnose", "fix"],
        },
    ],
    "confirmation": {"timeout_hours": 24},
}

STAGE_DATA: dict[str, dict[str, Any]] = {
    "triage": {},
    "diagnose": {"root_cause": "switch port flapping"},
    "fix": {"commit": "abc1234"},
    "verify": {},
}


def incident(**changes: Any) -> ProcessDefinition:
    """The four-stage incident definition (triage, diagnose || fix, verify)."""
    return ProcessDefinition.model_validate({**INCIDENT, **changes})


def actor(user: str, department: str, role: str = "agent") -> Actor:
    """An actor in a department."""
    return Actor(user=user, department=department, role=role)


REQUESTER = Actor(user="rita", department="sales", role="requester")
DESK = actor("dana", "service-desk")
OPS = actor("otto", "ops")
DEV = actor("devi", "dev")
