"""Customer fields as policy objects: the rule grammar takes them, the shape declares them all."""

from __future__ import annotations

from policies.customers import (
    CARE_TASK_SHAPE,
    CATALOG,
    CUSTOMER_FIELDS,
    CUSTOMER_SHAPE,
    HISTORY_SHAPE,
    SENTIMENT_SHAPE,
)
from policies.redaction import KEEP
from policies.subjects import rule_problems


def test_rules_may_name_customer_fields() -> None:
    rule = ("role:agent", "customer-care/east", "customer.email", "read", "confidential", "allow")
    assert rule_problems("p", rule) == []
    typo = ("role:agent", "*", "customers.email", "read", "internal", "allow")
    assert [field for field, _ in rule_problems("p", typo)] == ["object"]


def test_contact_fields_and_consent_are_confidential() -> None:
    confidential = {n for n, s in CUSTOMER_FIELDS.items() if s == "confidential"}
    assert confidential == {"email", "phone", "address", "consents", "care_history", "sentiment"}
    assert CATALOG.spec("email").sensitivity == "confidential"
    # Every declared field has a rule in the shape; the shape gates nothing undeclared.
    # Every declared field has a rule in a shape (the customer's, or its care history's); the
    # shapes gate nothing undeclared.
    shapes = [CUSTOMER_SHAPE, HISTORY_SHAPE, CARE_TASK_SHAPE]
    rules = [r for shape in shapes for r in shape.values() if r != KEEP]
    gates = {r if isinstance(r, str) else r[0] for r in rules}
    assert gates <= set(CUSTOMER_FIELDS)
    # Sentiment records and purges are a document of their own, all of it behind `sentiment`.
    assert set(CUSTOMER_FIELDS) <= set(CUSTOMER_SHAPE) | {"care_history", "sentiment"}
    assert HISTORY_SHAPE["items"][0] == "care_history"
    assert {r[0] for r in SENTIMENT_SHAPE.values()} == {"sentiment"}
