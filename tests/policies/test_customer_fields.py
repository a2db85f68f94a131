"""Customer fields as policy objects: the rule grammar takes them, the shape declares them all."""

from __future__ import annotations

from policies.customers import CATALOG, CUSTOMER_FIELDS, CUSTOMER_SHAPE, SENTIMENT_SHAPE
from policies.subjects import rule_problems


def test_rules_may_name_customer_fields() -> None:
    rule = ("role:agent", "customer-care/east", "customer.email", "read", "confidential", "allow")
    assert rule_problems("p", rule) == []
    typo = ("role:agent", "*", "customers.email", "read", "internal", "allow")
    assert [field for field, _ in rule_problems("p", typo)] == ["object"]


def test_contact_fields_and_consent_are_confidential() -> None:
    confidential = {n for n, s in CUSTOMER_FIELDS.items() if s == "confidential"}
    assert confidential == {"email", "phone", "address", "consents", "sentiment"}
    assert CATALOG.spec("email").sensitivity == "confidential"
    # Every declared field has a rule in the shape; the shape gates nothing undeclared.
    gates = {r if isinstance(r, str) else r[0] for r in CUSTOMER_SHAPE.values()}
    assert gates <= set(CUSTOMER_FIELDS)
    # Sentiment records and purges are a document of their own, all of it behind `sentiment`.
    assert set(CUSTOMER_FIELDS) - {"sentiment"} <= set(CUSTOMER_SHAPE)
    assert {r[0] for r in SENTIMENT_SHAPE.values()} == {"sentiment"}
