"""Which fields a customer has, how sensitive each is, and what a caller sees of one.

Customer fields are policy objects `customer.<field>`, decided by the same Casbin policy and
the same redaction as ticket fields: a customer's domain is `<care department>/<region>`, so
the care department's agents reach it as their home (`{home}/*`) and others only by a rule
that names it. Contact fields and consent are confidential; a field the shape does not declare
is not shown.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from policies.access import NO_SITE, AccessControl
from policies.authorization import Write
from policies.catalog import FieldCatalog, FieldSpec
from policies.decisions import Subject
from policies.redaction import KEEP, FieldView, redact

CUSTOMER = "customer"
CUSTOMER_FIELDS: dict[str, str] = {
    "id": "internal",
    "name": "internal",
    "tier": "internal",
    "lifetime_value": "internal",
    "region": "internal",
    "products": "internal",
    "created_at": "internal",
    "created_by": "internal",
    "email": "confidential",
    "phone": "confidential",
    "address": "confidential",
    # What the customer agreed to, the text they were shown and who recorded it.
    "consents": "confidential",
    # The care the customer got (CareWorkflow's steps): what was sent, asked, stopped and why.
    "care_history": "confidential",
    # Their messages taken for sentiment analysis, each with its score, and the purges of them.
    "sentiment": "confidential",
}
CATALOG = FieldCatalog(
    ident=CUSTOMER, fields={name: FieldSpec(level) for name, level in CUSTOMER_FIELDS.items()}
)
PRODUCT_SHAPE: dict[str, Any] = dict.fromkeys(("product_id", "name", "purchased_on"), KEEP)
CONSENT_SHAPE: dict[str, Any] = dict.fromkeys(
    (
        "id",
        "purpose",
        "channel",
        "text",
        "given_at",
        "recorded_at",
        "recorded_by",
        "revoked_at",
        "revoked_by",
        "revoked_via",
    ),
    KEEP,
)
CARE_RECORD_SHAPE: dict[str, Any] = dict.fromkeys(
    ("ticket_key", "care_seq", "ticket_seq", "type", "at", "actor", "data"), KEEP
)
CUSTOMER_SHAPE: dict[str, Any] = {
    **{
        name: name
        for name in CUSTOMER_FIELDS
        if name not in ("products", "consents", "care_history", "sentiment")
    },
    "products": ("products", PRODUCT_SHAPE),
    "consents": ("consents", CONSENT_SHAPE),
    # Which purposes are in force now: as revealing as the ledger it is read from.
    "consenting_to": "consents",
}
# A customer's care history: whose it is, and the steps, each shown whole or not at all.
HISTORY_SHAPE: dict[str, Any] = {
    "customer_id": "id",
    "items": ("care_history", CARE_RECORD_SHAPE),
}


RECORD_SHAPE: dict[str, Any] = dict.fromkeys(
    (
        "id",
        "ticket_key",
        "source",
        "text",
        "taken_at",
        "purge_at",
        "label",
        "confidence",
        "probabilities",
        "model_version",
        "scored_at",
    ),
    KEEP,
)
PURGE_SHAPE: dict[str, Any] = dict.fromkeys(
    ("id", "reason", "at", "deleted", "scored", "record_ids", "taken_at"), KEEP
)
SENTIMENT_SHAPE: dict[str, Any] = {
    "records": ("sentiment", RECORD_SHAPE),
    "purges": ("sentiment", PURGE_SHAPE),
}


def customer_domain(department: str, region: str) -> str:
    """A customer's policy domain: "<care department>/<region>" ("-" without a region)."""
    return f"{department}/{region or NO_SITE}"


def customer_view(
    access: AccessControl, *, user: str, role: str, home: str, domain: str
) -> FieldView:
    """What this caller may read and write of a customer in this domain."""
    subject = Subject(user=user, role=role, home=home)
    return FieldView(
        decisions=(access.decision(subject, domain),), catalog=CATALOG, role=role, kind=CUSTOMER
    )


def redact_customer(document: Mapping[str, Any], view: FieldView) -> dict[str, Any]:
    """A customer as this caller may see it: only declared, readable fields."""
    return redact(document, view, CUSTOMER_SHAPE)


def redact_history(document: Mapping[str, Any], view: FieldView) -> dict[str, Any]:
    """A customer's care history as this caller may see it (no steps without `care_history`)."""
    return redact(document, view, HISTORY_SHAPE)


# A confirmation task of a customer's care: what it is about is the customer's care history.
CARE_TASK_SHAPE: dict[str, Any] = {
    **dict.fromkeys(("id", "ticket_key", "group", "status", "opened_at", "deadline"), KEEP),
    "customer_id": "id",
    **dict.fromkeys(("action", "rule", "decided_by", "decided_at", "reason"), "care_history"),
}


def redact_care_task(document: Mapping[str, Any], view: FieldView) -> dict[str, Any]:
    """A care task as this caller may see it."""
    return redact(document, view, CARE_TASK_SHAPE)


def customer_writes(document: Mapping[str, Any]) -> tuple[Write, ...]:
    """The customer fields a (checked) customer document writes."""
    return tuple(Write(key, f"/{key}") for key in document if key in CUSTOMER_FIELDS)


def redact_sentiment(document: Mapping[str, Any], view: FieldView) -> dict[str, Any]:
    """A customer's sentiment records and purges as this caller may see them."""
    return redact(document, view, SENTIMENT_SHAPE)
