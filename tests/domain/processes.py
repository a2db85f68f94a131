"""Builders for processes with automated stages and gateways, for domain and workflow tests."""

from __future__ import annotations

from typing import Any

from domain.definitions import ProcessDefinition
from domain.ticket import Actor, TicketState
from tests.domain.tickets import NOW, RITA

OPS = Actor(user="otto", department="ops", role="agent")
DESK = Actor(user="dana", department="desk", role="agent")


def stage(key: str, **fields: Any) -> dict[str, Any]:
    """A stage document: a human task of the desk unless `fields` say otherwise."""
    return {"key": key, "title": key.title(), "group": "desk", **fields}


def process(*stages: dict[str, Any], **fields: Any) -> ProcessDefinition:
    """A published-looking definition of these stages."""
    document: dict[str, Any] = {
        "key": "flow",
        "version": 1,
        "title": "Flow",
        "key_prefix": "FLOW",
        "department": "desk",
        "intake_form": {"type": "object"},
        "stages": list(stages),
        "confirmation": {"timeout_hours": 24},
    }
    return ProcessDefinition.model_validate({**document, **fields})


def service(action: str = "test.flaky", **fields: Any) -> dict[str, Any]:
    """A service stage's `service` block."""
    return {"action": action, "retry": {"maximum_attempts": 3}, **fields}


def exclusive(*branches: tuple[str, str], default: str | None = None) -> dict[str, Any]:
    """An exclusive gateway of (to, when) branches."""
    return {
        "type": "exclusive",
        "branches": [{"to": to, "when": when} for to, when in branches],
        "default": default,
    }


def inclusive(*branches: tuple[str, str], default: str | None = None) -> dict[str, Any]:
    """An inclusive gateway of (to, when) branches."""
    return {**exclusive(*branches, default=default), "type": "inclusive"}


def start(definition: ProcessDefinition, intake: dict[str, Any] | None = None) -> TicketState:
    """A ticket of this process, filed by Rita now."""
    return TicketState.create(
        key="FLOW-1",
        definition=definition,
        intake=intake if intake is not None else {"severity": 2},
        requester=RITA,
        now=NOW,
    )


# Severity decides the path: above 3 the safety review, else the normal fix; both meet again
# at `verify`, which then waits for the spare part (or chases it), cools down and hands over.
REPAIR = process(
    stage(
        "assess",
        kind="service",
        group="ops",
        service=service(params={"severity": "=intake.severity", "ticket": "=ticket.key"}),
        gateway=exclusive(("safety", "stages.assess.data.level > 3"), default="fix"),
        sla={"target": "PT1H"},
    ),
    stage("safety", group="ops"),
    stage("fix"),
    stage("verify", depends_on=["safety", "fix"]),
    stage(
        "part",
        kind="wait",
        depends_on=["verify"],
        wait={
            "signal": "external_update",
            "correlation": "signal.order == intake.order",
            "timeout": "PT2H",
            "on_timeout": "chase",
        },
    ),
    stage("chase"),
    stage("install", depends_on=["part"]),
    stage("cool", kind="timer", depends_on=["install"], timer={"duration": "PT1H"}),
    stage(
        "handover",
        kind="subprocess",
        depends_on=["cool"],
        subprocess={"definition": "care@1", "intake": {"order": "intake.order"}},
    ),
)
