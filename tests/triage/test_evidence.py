"""Vague and off-topic tickets go to a person, however sure the model's probability is."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache

import pytest

from domain.ticket import TicketState
from domain.triage import TriageResult, TriageTicket
from domain.triage_routing import apply_triage, triage_input
from domain.triage_settings import DEFAULT_MIN_EVIDENCE
from tests.builders import REQUESTER
from tests.triage.corpora import VAGUE_AND_OFF_TOPIC, intent_corpus
from tests.triage.fixtures import support
from triage.candidates import CANDIDATES
from triage.model import TriageModel
from triage.training import fit

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


@lru_cache
def intent_model(name: str) -> TriageModel:
    """A recipe fitted on the generated customer-service intents."""
    return fit(intent_corpus(seed=1), next(c for c in CANDIDATES if c.name == name))


def ticket(text: str, threshold: float) -> TicketState:
    definition = support(threshold)
    return TicketState.create(
        key="SUP-1",
        definition=definition,
        intake={"title": text},
        requester=REQUESTER,
        now=NOW,
    )


@pytest.mark.parametrize("recipe", [c.name for c in CANDIDATES])
def test_vague_and_off_topic_texts_carry_less_evidence_than_the_training_tickets(
    recipe: str,
) -> None:
    model = intent_model(recipe)
    for text in VAGUE_AND_OFF_TOPIC:
        result = model.predict(TriageTicket(title=text))
        assert result.evidence is not None
        assert result.evidence < DEFAULT_MIN_EVIDENCE, (text, result)


def test_real_queries_carry_enough_evidence() -> None:
    model = intent_model("blend")
    fresh = intent_corpus(seed=2)
    evidence = [model.predict(e.ticket).evidence for e in fresh]
    enough = [e is not None and e >= DEFAULT_MIN_EVIDENCE for e in evidence]
    # By construction about DEFAULT_MIN_EVIDENCE of in-domain tickets fall below it.
    assert sum(enough) / len(fresh) >= 1 - 3 * DEFAULT_MIN_EVIDENCE


@pytest.mark.parametrize("text", VAGUE_AND_OFF_TOPIC)
def test_the_vague_set_lands_in_manual_triage_even_below_a_low_threshold(text: str) -> None:
    # A threshold this low routes every answer on confidence alone: only evidence stops it.
    state = ticket(text, threshold=0.0)
    seen = triage_input(state)
    result = intent_model("blend").predict(seen)
    result.model_version = 1
    event, *moved = apply_triage(state, seen, result, NOW)
    assert event.data["routed"] is False
    assert moved == []
    assert state.tasks["handle"].group == "dispatch"


@pytest.mark.parametrize(
    ("evidence", "routed"),
    [(0.0, False), (DEFAULT_MIN_EVIDENCE / 2, False), (DEFAULT_MIN_EVIDENCE, True), (None, True)],
)
def test_a_sure_answer_routes_only_with_enough_evidence(
    evidence: float | None, routed: bool
) -> None:
    # "hello, something is odd, please call me" was routed at 0.893 on the word "call".
    state = ticket("hello, something is odd, please call me", threshold=0.7)
    sure = TriageResult(model_version=1, team="network", confidence=0.893, evidence=evidence)
    event, *moved = apply_triage(state, triage_input(state), sure, NOW)
    assert event.data["routed"] is routed
    assert [e.type for e in moved] == (["task_routed"] if routed else [])
    assert event.data["min_evidence"] == DEFAULT_MIN_EVIDENCE
    assert state.tasks["handle"].group == ("network" if routed else "dispatch")


def test_a_definition_can_turn_the_evidence_check_off() -> None:
    state = ticket("hi", threshold=0.7)
    assert state.definition.triage is not None
    state.definition.triage.min_evidence = 0.0
    sure = TriageResult(model_version=1, team="network", confidence=0.95, evidence=0.0)
    event, *_ = apply_triage(state, triage_input(state), sure, NOW)
    assert event.data["routed"] is True
