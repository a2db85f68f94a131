"""Customer documents (one failing document per problem), tiers by bands, the consent ledger."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from domain.customers import (
    ConsentEvent,
    band_problems,
    consents,
    customer_problems,
    derive_tier,
    in_force,
    settled,
)

BANDS = {"vip": 10_000.0, "standard": 1_000.0, "basic": 0.0}
GOOD: dict[str, Any] = {
    "id": "C-1",
    "name": "Li Wei",
    "email": "li.wei@example.com",
    "phone": "+86 138 0000 5678",
    "address": "1 Garden Road",
    "tier": "vip",
    "region": "east",
    "products": [{"product_id": "AC-200", "name": "Air conditioner", "purchased_on": "2025-06-01"}],
}


def test_a_good_customer_has_no_problem() -> None:
    assert customer_problems(GOOD, bands=BANDS) == []


@pytest.mark.parametrize(
    ("changes", "where", "says"),
    [
        ({"id": "no spaces"}, "/id", "pattern"),
        ({"name": ""}, "/name", "at least 1"),
        ({"email": "not-an-address"}, "/email", "pattern"),
        ({"phone": "call me"}, "/phone", "pattern"),
        ({"address": ""}, "/address", "at least 1"),
        ({"tier": "gold"}, "/tier", "'vip', 'standard' or 'basic'"),
        ({"tier": None, "lifetime_value": -5}, "/lifetime_value", "greater than or equal"),
        ({"region": "East Coast"}, "/region", "pattern"),
        ({"colour": "red"}, "/colour", "Extra inputs"),
        ({"products": "AC-200"}, "/products", "valid list"),
        (
            {"products": [{"product_id": "AC", "name": "Fan", "purchased_on": "2025-02-30"}]},
            "/products/0/purchased_on",
            "date",
        ),
        (
            {"products": [{"product_id": "AC", "name": "Fan"}]},
            "/products/0/purchased_on",
            "required",
        ),
        (
            {
                "products": [
                    {"product_id": "AC", "name": "Fan", "purchased_on": "2025-01-01"},
                    {"product_id": "AC", "name": "Fan", "purchased_on": "2025-01-02"},
                ]
            },
            "/products/1/product_id",
            "also at /products/0",
        ),
        ({"tier": None}, "/tier", "a tier or a lifetime_value"),
    ],
)
def test_one_problem_per_bad_document(changes: dict[str, Any], where: str, says: str) -> None:
    document = {**GOOD, **changes}
    document = {k: v for k, v in document.items() if v is not None}
    problems = customer_problems(document, bands=BANDS)
    assert [p.pointer for p in problems] == [where]
    assert says in problems[0].detail


def test_missing_id_and_name_are_both_named() -> None:
    problems = customer_problems({"tier": "basic"}, bands=BANDS)
    assert [(p.pointer, p.detail) for p in problems] == [
        ("/id", "Field required"),
        ("/name", "Field required"),
    ]


def test_every_problem_is_listed_at_once() -> None:
    document = {**GOOD, "id": "a b", "email": "x", "tier": "gold", "extra": 1}
    pointers = {p.pointer for p in customer_problems(document, bands=BANDS)}
    assert pointers == {"/id", "/email", "/tier", "/extra"}


def test_a_value_below_every_band_needs_a_tier() -> None:
    document = {"id": "C-2", "name": "A", "lifetime_value": 50}
    problems = customer_problems(document, bands={"vip": 100.0})
    assert [p.pointer for p in problems] == ["/lifetime_value"]
    assert "below every tier's band" in problems[0].detail


def test_something_that_is_no_object_is_one_problem() -> None:
    assert [p.pointer for p in customer_problems(["C-1"], bands=BANDS)] == [""]


@pytest.mark.parametrize(
    ("value", "tier"),
    [(0, "basic"), (999.99, "basic"), (1000, "standard"), (9999, "standard"), (10_000, "vip")],
)
def test_tiers_derive_from_the_bands(value: float, tier: str) -> None:
    assert derive_tier(value, BANDS) == tier
    customer = settled({"id": "C", "name": "A", "lifetime_value": value}, bands=BANDS)
    assert customer.tier == tier


def test_a_given_tier_wins_over_the_value() -> None:
    customer = settled({"id": "C", "name": "A", "tier": "vip", "lifetime_value": 3}, bands=BANDS)
    assert customer.tier == "vip"


@pytest.mark.parametrize(
    ("bands", "says"),
    [
        ({"gold": 5.0}, "unknown tier 'gold'"),
        ({"vip": -1.0}, "at least 0"),
        ({"vip": 5.0, "basic": 5.0}, "same floor"),
    ],
)
def test_bad_bands_are_named(bands: dict[str, float], says: str) -> None:
    assert any(says in p for p in band_problems(bands))


T0 = datetime(2026, 3, 1, 9, tzinfo=UTC)


def granted(purpose: str, at: datetime) -> ConsentEvent:
    return ConsentEvent(purpose=purpose, kind="granted", at=at)  # type: ignore[arg-type]


def revoked(purpose: str, at: datetime) -> ConsentEvent:
    return ConsentEvent(purpose=purpose, kind="revoked", at=at)  # type: ignore[arg-type]


HOUR = timedelta(hours=1)
LEDGER = [
    granted("care_messages", T0),
    revoked("care_messages", T0 + 2 * HOUR),
    granted("care_messages", T0 + 5 * HOUR),
    granted("sentiment_analysis", T0 + HOUR),
]


@pytest.mark.parametrize(
    ("purpose", "at", "expected"),
    [
        ("care_messages", T0 - HOUR, False),  # before it was given
        ("care_messages", T0, True),  # from the instant it was given
        ("care_messages", T0 + HOUR, True),
        ("care_messages", T0 + 2 * HOUR, False),  # revoked
        ("care_messages", T0 + 3 * HOUR, False),
        ("care_messages", T0 + 5 * HOUR, True),  # given again
        ("sentiment_analysis", T0, False),  # another purpose's grant says nothing
        ("sentiment_analysis", T0 + HOUR, True),
    ],
)
def test_consent_at_an_instant(purpose: str, at: datetime, expected: bool) -> None:
    assert consents(LEDGER, purpose, at) is expected  # type: ignore[arg-type]


def test_a_revocation_at_the_instant_of_a_grant_wins() -> None:
    ledger = [granted("care_messages", T0), revoked("care_messages", T0)]
    assert consents(ledger, "care_messages", T0) is False


def test_an_empty_ledger_consents_to_nothing() -> None:
    assert in_force([], T0) == []
    assert in_force(LEDGER, T0 + 6 * HOUR) == ["sentiment_analysis", "care_messages"]
