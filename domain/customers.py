"""Customers and their consent, as data: who they are, what they bought, what they agreed to.

A customer's value tier is given (`vip`, `standard`, `basic`) or derived from their lifetime
value by configured bands. Consent is a ledger per purpose: a grant records when, through which
channel, the text shown and who recorded it; a revocation is added after it and never removes
it, so whether a customer consents to a purpose at an instant is read off the ledger.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from domain.problems import Problem, pointer

Tier = Literal["vip", "standard", "basic"]
TIERS: tuple[Tier, ...] = ("vip", "standard", "basic")
Purpose = Literal["sentiment_analysis", "care_messages"]
PURPOSES: tuple[Purpose, ...] = ("sentiment_analysis", "care_messages")
Channel = Literal["web", "app", "email", "sms", "phone", "in_person", "paper"]
RevokedVia = Literal["api", "link"]

CUSTOMER_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$"
PRODUCT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$"
# A region is one segment of a policy domain (`<department>/<region>`): rules can name it.
REGION_PATTERN = r"^[a-z0-9][a-z0-9-]{0,39}$"
EMAIL_PATTERN = r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$"
PHONE_PATTERN = r"^\+?[0-9][0-9 ()./-]{2,29}$"
MAX_PRODUCTS = 200
MAX_CONSENT_TEXT = 5000


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Product(_Strict):
    """A product the customer owns, and when they bought it."""

    product_id: str = Field(pattern=PRODUCT_ID_PATTERN)
    name: str = Field(min_length=1, max_length=200)
    purchased_on: date


class Customer(_Strict):
    """A customer: identity, contact fields (confidential), value tier, region and products."""

    id: str = Field(pattern=CUSTOMER_ID_PATTERN)
    name: str = Field(min_length=1, max_length=200)
    email: str | None = Field(default=None, max_length=254, pattern=EMAIL_PATTERN)
    phone: str | None = Field(default=None, pattern=PHONE_PATTERN)
    address: str | None = Field(default=None, min_length=1, max_length=500)
    tier: Tier | None = Field(default=None, description="Without it, derived from the value.")
    lifetime_value: float | None = Field(default=None, ge=0, le=1e15)
    region: str = Field(default="", pattern=rf"{REGION_PATTERN}|^$")
    products: list[Product] = Field(default_factory=list, max_length=MAX_PRODUCTS)


def derive_tier(lifetime_value: float, bands: Mapping[str, float]) -> Tier | None:
    """The tier whose band (its lowest lifetime value) is the highest one this value reaches."""
    reached = [(bands[t], t) for t in TIERS if t in bands and lifetime_value >= bands[t]]
    return max(reached)[1] if reached else None


def band_problems(bands: Mapping[str, float]) -> list[str]:
    """What is wrong with a tier-band setting: unknown tiers, negative floors, shared floors."""
    problems = [f"unknown tier {name!r}" for name in bands if name not in TIERS]
    problems += [f"{name}: a band's floor is at least 0" for name, f in bands.items() if f < 0]
    if len(set(bands.values())) != len(bands):
        problems.append("two tiers have the same floor")
    return problems


# One adapter per field, so that one bad field does not hide the others.
_FIELDS: dict[str, TypeAdapter[Any]] = {
    name: TypeAdapter(info.rebuild_annotation())
    for name, info in Customer.model_fields.items()
    if name != "products"
}


def _located(exc: ValidationError, *at: str | int) -> list[Problem]:
    return [Problem(pointer=pointer(*at, *e["loc"]), detail=e["msg"]) for e in exc.errors()]


def customer_problems(document: object, *, bands: Mapping[str, float]) -> list[Problem]:
    """Every problem of a customer document; none means it is a valid `Customer`.

    `bands` maps each tier to the lowest lifetime value it takes (the configured bands).
    """
    if not isinstance(document, Mapping):
        return [Problem(pointer="", detail="a customer is an object of its fields")]
    problems = [
        Problem(pointer=pointer(str(key)), detail="Extra inputs are not permitted")
        for key in document
        if key not in Customer.model_fields
    ]
    for name, adapter in _FIELDS.items():
        if name not in document:
            if Customer.model_fields[name].is_required():
                problems.append(Problem(pointer=pointer(name), detail="Field required"))
            continue
        try:
            adapter.validate_python(document[name])
        except ValidationError as exc:
            problems += _located(exc, name)
    problems += _product_problems(document.get("products", []))
    tier, value = document.get("tier"), document.get("lifetime_value")
    if tier is None and value is None:
        problems.append(
            Problem(pointer="/tier", detail="a customer needs a tier or a lifetime_value")
        )
    elif (
        tier is None
        and isinstance(value, int | float)
        and value >= 0
        and derive_tier(float(value), bands) is None
    ):
        lowest = min(bands.values(), default=0)
        problems.append(
            Problem(
                pointer="/lifetime_value",
                detail=f"{value:g} is below every tier's band (the lowest starts at"
                f" {lowest:g}): give a tier",
            )
        )
    return problems


def _product_problems(raw: object) -> list[Problem]:
    if not isinstance(raw, list):
        return [Problem(pointer="/products", detail="Input should be a valid list")]
    problems = []
    if len(raw) > MAX_PRODUCTS:
        problems.append(Problem(pointer="/products", detail=f"at most {MAX_PRODUCTS} products"))
    first: dict[str, int] = {}
    for i, item in enumerate(raw):
        try:
            product = Product.model_validate(item)
        except ValidationError as exc:
            problems += _located(exc, "products", i)
            continue
        if product.product_id in first:
            problems.append(
                Problem(
                    pointer=pointer("products", i, "product_id"),
                    detail=f"product {product.product_id!r} is also at"
                    f" /products/{first[product.product_id]}",
                )
            )
        first.setdefault(product.product_id, i)
    return problems


def settled(document: Mapping[str, Any], *, bands: Mapping[str, float]) -> Customer:
    """The customer a checked document describes, its tier derived when it gives none."""
    customer = Customer.model_validate(document)
    if customer.tier is None and customer.lifetime_value is not None:
        customer.tier = derive_tier(customer.lifetime_value, bands)
    return customer


class ConsentGrant(_Strict):
    """Consent as given: the purpose, the channel, the text shown, and when."""

    purpose: Purpose
    channel: Channel
    text: str = Field(min_length=1, max_length=MAX_CONSENT_TEXT)
    given_at: datetime | None = Field(default=None, description="Default: when it is recorded.")


class ConsentEvent(BaseModel):
    """One entry of a customer's consent ledger: a purpose granted or revoked at an instant."""

    purpose: Purpose
    kind: Literal["granted", "revoked"]
    at: datetime


class ConsentRevoked(BaseModel):
    """A revocation, as the care of this customer is told of it."""

    customer_id: str
    purpose: Purpose
    at: datetime
    via: RevokedVia
    by: str


def consents(events: Iterable[ConsentEvent], purpose: Purpose, at: datetime) -> bool:
    """Whether the ledger shows consent to `purpose` in force at `at`.

    The latest entry for the purpose at or before `at` decides; a revocation at the same
    instant as a grant wins (consent is never assumed).
    """
    before = [e for e in events if e.purpose == purpose and e.at <= at]
    if not before:
        return False
    latest = max(before, key=lambda e: (e.at, e.kind == "revoked"))
    return latest.kind == "granted"


def in_force(events: Sequence[ConsentEvent], at: datetime) -> list[Purpose]:
    """The purposes consented to at `at`, in the order PURPOSES lists them."""
    return [p for p in PURPOSES if consents(events, p, at)]
