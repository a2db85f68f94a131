"""Sentiment scores and their texts are fields with a sensitivity: by value, who sees them.

On a customer they are `customer.sentiment` (confidential): the care department's agents and
admins read them; other agents, auditors and everyone else never do. On a ticket the expedite
proposals are `ticket.sentiment` (confidential): the handlers and auditors, not the requester.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from domain.ticket import Actor, TicketState
from policies.access import AccessControl
from policies.catalog import catalog_from_document
from policies.customers import customer_domain, customer_view, redact_sentiment
from policies.event_shapes import redact_events
from tests.builders import INCIDENT
from tests.domain.tickets import NOW
from tests.security.policy import access_control, seeded_enforcer, view_of

MARKER = "MARK-SENTIMENT-TEXT"
DOCUMENT: dict[str, Any] = {
    "records": [
        {
            "id": 1,
            "ticket_key": "INC-1",
            "source": "comment",
            "text": MARKER,
            "taken_at": "2026-12-01T09:00:00Z",
            "purge_at": "2026-12-31T09:00:00Z",
            "label": "angry",
            "confidence": 0.93,
            "probabilities": {"angry": 0.93, "neutral": 0.07},
            "model_version": 0,
            "scored_at": "2026-12-01T09:00:01Z",
        }
    ],
    "purges": [
        {
            "id": 1,
            "reason": "retention",
            "at": "2026-12-01T09:00:00Z",
            "deleted": 1,
            "scored": 1,
            "record_ids": [9],
            "taken_at": ["2026-11-01T09:00:00Z"],
        }
    ],
}
CALLERS = {
    "carla": Actor(user="carla", department="customer-care", role="agent"),
    "root": Actor(user="root", department="it", role="admin"),
    "dana": Actor(user="dana", department="service-desk", role="agent"),
    "audrey": Actor(user="audrey", department="audit", role="auditor"),
    "rita": Actor(user="rita", department="sales", role="requester"),
    "owner": Actor(user="owner", department="process-office", role="process_owner"),
}
CLEARED = {"carla", "root"}


@pytest.fixture(scope="module")
async def access(tmp_path_factory: pytest.TempPathFactory) -> AccessControl:
    enforcer = await seeded_enforcer(Path(tmp_path_factory.mktemp("policy")))
    return access_control(enforcer)


@pytest.mark.parametrize("caller", sorted(CALLERS))
def test_scores_and_texts_reach_only_the_cleared(access: AccessControl, caller: str) -> None:
    actor = CALLERS[caller]
    view = customer_view(
        access,
        user=actor.user,
        role=actor.role,
        home=actor.department,
        domain=customer_domain("customer-care", "east"),
    )
    shown = json.dumps(redact_sentiment(DOCUMENT, view))
    if caller in CLEARED:
        assert view.readable("sentiment")
        assert MARKER in shown
        assert "0.93" in shown
        assert '"record_ids": [9]' in shown
    else:
        assert not view.readable("sentiment")
        assert MARKER not in shown
        assert "angry" not in shown
        assert "0.93" not in shown
        assert shown == "{}"


def expedite_timeline() -> list[dict[str, Any]]:
    from domain.definitions import ProcessDefinition

    state = TicketState.create(
        key="INC-1",
        definition=ProcessDefinition.model_validate(INCIDENT),
        intake={"title": "AC broken"},
        requester=Actor(user="rita", department="sales", role="requester"),
        now=NOW,
    )
    proposed = state.propose_expedite(1, "care-supervisors", NOW)
    assert proposed is not None
    supervisor = Actor(user="sue", department="care-supervisors", role="agent")
    state.decide_expedite(proposed.data["proposal"], supervisor, "confirm", "MARK-WHY", NOW)
    return [e.model_dump(mode="json") for e in state.events]


@pytest.mark.parametrize(
    ("caller", "sees"), [("rita", False), ("dana", True), ("audrey", True), ("root", True)]
)
def test_the_proposals_on_a_ticket_are_for_its_handlers(
    access: AccessControl, caller: str, sees: bool
) -> None:
    catalog = catalog_from_document(INCIDENT)
    shown = redact_events(expedite_timeline(), view_of(access, caller, catalog))
    types = [e["type"] for e in shown]
    assert ("expedite_proposed" in types) is sees
    assert ("expedite_confirmed" in types) is sees
    assert ("MARK-WHY" in json.dumps(shown)) is sees
    # The supervisor's task shows to whoever sees tasks; what opened it only with sentiment.
    [opened] = [e for e in shown if e["type"] == "task_opened" and e["data"].get("kind")]
    assert ("expedite" in opened["data"]) is sees
