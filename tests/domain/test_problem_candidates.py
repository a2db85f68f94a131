"""Problem candidates: one cause behind two symptoms is found; independent noise gives none."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.problem_candidates import (
    ScanSettings,
    TicketSymptoms,
    find_candidates,
    hypergeometric_tail,
    matches,
    symptom_terms,
)

START = datetime(2026, 11, 1, tzinfo=UTC)
HOURS = 240
NOISE = [
    "Printer jams on floor 3",
    "VPN drops every hour",
    "Outlook keeps asking for password",
    "Laptop battery drains fast",
    "Monitor flickers",
    "Teams camera black",
    "Excel macro crashes",
    "Badge reader rejects card",
    "Wifi slow in meeting room",
    "Shared drive full",
    "Phone headset no sound",
    "Keyboard keys sticking",
    "Calendar invites missing",
    "Scanner sends blank pages",
    "Docking station no display",
    "SAP report timeout",
    "Password reset link expired",
    "New hire account request",
]
CAUSE = ("Login timeout on the portal", "Insurance interface returns 502")


def _ticket(key: int, at: datetime, title: str, **assets: str) -> TicketSymptoms:
    return TicketSymptoms(key=f"IT-{key:06d}", created_at=at, title=title, assets=assets)


def _noise(rng: random.Random, count: int, first_key: int = 0) -> list[TicketSymptoms]:
    return [
        _ticket(
            first_key + i,
            START + timedelta(minutes=rng.randrange(HOURS * 60)),
            rng.choice(NOISE),
        )
        for i in range(count)
    ]


def _stream(seed: int) -> tuple[list[TicketSymptoms], set[str]]:
    """Noise, each cause symptom now and then on its own, and 8 outages showing both."""
    rng = random.Random(seed)
    tickets = _noise(rng, 500)
    key = 10_000
    for title in CAUSE:
        for _ in range(4):
            tickets.append(_ticket(key, START + timedelta(hours=rng.randrange(HOURS)), title))
            key += 1
    caused = set()
    for hour in rng.sample(range(HOURS), 8):
        at = START + timedelta(hours=hour, minutes=5)
        for i, title in enumerate(CAUSE):
            ticket = _ticket(key, at + timedelta(minutes=10 * i), title, affected_service="portal")
            tickets.append(ticket)
            caused.add(ticket.key)
            key += 1
    return tickets, caused


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_two_symptoms_of_one_cause_become_one_candidate_with_its_tickets(seed: int) -> None:
    tickets, caused = _stream(seed)
    (candidate,) = find_candidates(tickets)
    assert {"login", "timeout", "portal"} & set(candidate.terms)
    assert {"insurance", "interface", "502"} & set(candidate.terms)
    # Every pair joins one symptom's term to the other's, never two words of one title.
    login_side = symptom_terms(CAUSE[0])
    for pair in candidate.pairs:
        assert (pair.first in login_side) != (pair.second in login_side)
        assert pair.support >= 8
        assert pair.lift >= 3
    assert caused <= set(candidate.tickets)
    assert candidate.assets == {"affected_service": ["portal"]}
    # The same data gives the same candidate: a rescan updates, never duplicates.
    assert find_candidates(tickets)[0].fingerprint == candidate.fingerprint


@pytest.mark.parametrize("seed", range(6))
def test_independent_noise_proposes_nothing(seed: int) -> None:
    assert find_candidates(_noise(random.Random(seed), 800)) == []


def test_symptoms_that_come_together_too_rarely_are_not_a_problem() -> None:
    tickets, _caused = _stream(4)
    assert find_candidates(tickets, ScanSettings(min_support=9)) == []


def test_terms_of_one_title_are_one_symptom_and_never_pair() -> None:
    # Titles always saying both words: every window has both, in the same tickets.
    rng = random.Random(5)
    tickets = [
        _ticket(i, START + timedelta(hours=rng.randrange(40)), "login timeout") for i in range(60)
    ]
    assert find_candidates(tickets + _noise(rng, 100, 1000)) == []


@pytest.mark.parametrize(
    ("title", "terms"),
    [
        ("Login timeout on the portal", {"login", "timeout", "portal"}),
        ("Insurance interface returns 502!", {"insurance", "interface", "returns", "502"}),
        ("医保接口报502", {"医保", "保接", "接口", "口报", "502"}),
        ("Please help, it is not working", set()),
        ("", set()),
    ],
)
def test_symptom_terms(title: str, terms: set[str]) -> None:
    assert symptom_terms(title) == terms


@given(st.text(max_size=500))
@settings(max_examples=200)
def test_any_title_gives_a_bounded_set_of_terms(title: str) -> None:
    assert len(symptom_terms(title)) <= 12


@pytest.mark.parametrize(
    ("population", "first", "second", "shared", "expected"),
    [
        (10, 3, 3, 0, 1.0),
        (10, 3, 3, 4, 0.0),
        (10, 3, 3, 3, 1 / 120),  # the three of one are exactly the three of the other
        (4, 2, 2, 1, 5 / 6),
    ],
)
def test_hypergeometric_tail(
    population: int, first: int, second: int, shared: int, expected: float
) -> None:
    assert hypergeometric_tail(population, first, second, shared) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("title", "found"),
    [
        ("Portal login timeout again", True),
        ("Insurance interface 502 since 9:00", True),
        ("Timeout", True),
        ("Printer timeout", False),
        ("Monitor flickers", False),
    ],
)
def test_new_tickets_showing_a_problems_symptoms_match_it(title: str, found: bool) -> None:
    terms = ["502", "insurance", "interface", "login", "portal", "timeout"]
    assert matches(title, terms) is found
