"""A small process with SLA clocks and a ladder that escalates, for the domain's tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from domain.definitions import ProcessDefinition
from domain.sla_clocks import sync_clocks
from domain.ticket import Actor, TicketState

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
RITA = Actor(user="rita", department="sales", role="requester")
DANA = Actor(user="dana", department="desk", role="agent")
LEO = Actor(user="leo", department="l2", role="agent")
CARA = Actor(user="cara", department="cto", role="agent")
ROOT = Actor(user="root", department="it", role="admin")

LIFE: dict[str, Any] = {
    "key": "life",
    "version": 1,
    "title": "Ticket life",
    "key_prefix": "LIFE",
    "department": "desk",
    "stages": [
        {
            "key": "work",
            "title": "Work",
            "group": "desk",
            # At its target the work moves to the second line.
            "sla": {
                "target": "PT2H",
                "ladder": [{"at_fraction": 1.0, "actions": [{"type": "reassign", "group": "l2"}]}],
            },
        },
        {"key": "check", "title": "Check", "group": "desk", "depends_on": ["work"]},
    ],
    # The joint clock pauses while the ticket waits; after an hour the CTO's office follows up.
    "sla": {
        "target": "PT4H",
        "targets": {"P1": "PT1H"},
        "pause_when": ["customer", "supplier"],
        "ladder": [
            {"after": "PT1H", "actions": [{"type": "escalate", "group": "cto"}]},
            {"at_fraction": 1.0, "actions": [{"type": "raise_priority"}]},
        ],
    },
    "confirmation": {"timeout_hours": 24},
}


def life(**changes: Any) -> ProcessDefinition:
    """The ticket-life process, with top-level fields replaced by `changes`."""
    return ProcessDefinition.model_validate({**LIFE, **changes})


def new_ticket(definition: ProcessDefinition | None = None, **kwargs: Any) -> TicketState:
    """A ticket just filed by Rita, its clocks started as the workflow starts them."""
    state = TicketState.create(
        key="LIFE-1",
        definition=definition or life(),
        intake={"title": "VPN drops"},
        requester=RITA,
        now=NOW,
        **kwargs,
    )
    sync_clocks(state, NOW)
    return state
