"""Customers and consent: checked completely, stored, imported from CSV all or nothing.

Shared by the API and the CLI. Consent is a ledger: a revocation is added after the consent it
ends, by an agent (`DELETE`) or by the customer's one-time link, whose token is random and kept
only as its SHA-256.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import secrets
from collections.abc import Mapping
from datetime import datetime
from typing import Any, cast

from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client
from temporalio.service import RPCError

from domain.care_flow import CARE_REVOKED_SIGNAL, ConsentRevokedInput, care_workflow_id
from domain.customers import (
    ConsentGrant,
    ConsentRevoked,
    Customer,
    Purpose,
    RevokedVia,
    customer_problems,
    in_force,
    settled,
)
from domain.json_values import value_problems
from domain.problems import Problem, Rejected, pointer
from domain.ticket import Actor
from services.publishing import model_problems
from services.sentiment import stop_sentiment
from store import care as care_store
from store import customers as store
from store.customers import Ledger, ledger
from store.models import ConsentRevocationRow, ConsentRow, CustomerRow
from ticketflow.settings import Settings

# Who revokes through the customer's link: the customer, who has no account.
CUSTOMER_ACTOR = "customer"
CSV_COLUMNS = (
    "id",
    "name",
    "email",
    "phone",
    "address",
    "tier",
    "lifetime_value",
    "region",
    "products",
)
# A products cell: entries separated by ";", each "product_id|name|YYYY-MM-DD".
PRODUCT_SEPARATOR, PRODUCT_PARTS = ";", "|"
MAX_IMPORT_ROWS = 100_000


class CustomerExists(Exception):
    """A customer with this id is already stored (a 409)."""


def check_customer(*, document: object, settings: Settings, at: str = "") -> Customer:
    """The customer a document describes, its tier settled; Rejected with every problem."""
    problems = value_problems(document) or customer_problems(document, bands=settings.tier_bands)
    if problems:
        raise Rejected([Problem(pointer=at + p.pointer, detail=p.detail) for p in problems])
    assert isinstance(document, Mapping)  # customer_problems refuses anything else
    return settled(document, bands=settings.tier_bands)


async def create_customer(
    *, session: AsyncSession, document: object, actor: Actor, settings: Settings, now: datetime
) -> CustomerRow:
    """Check a customer and store it; CustomerExists when its id is taken."""
    customer = check_customer(document=document, settings=settings)
    if await store.get_customer(session=session, customer_id=customer.id) is not None:
        raise CustomerExists(customer.id)
    try:
        async with session.begin_nested():
            return await store.insert_customer(
                session=session, customer=customer, created_by=actor.user, now=now
            )
    except IntegrityError as exc:  # a concurrent create took the id first
        raise CustomerExists(customer.id) from exc


def _product(entry: str) -> dict[str, str] | str:
    parts = [part.strip() for part in entry.split(PRODUCT_PARTS)]
    if len(parts) != 3:
        return f"{entry!r} is not product_id|name|YYYY-MM-DD"
    return {"product_id": parts[0], "name": parts[1], "purchased_on": parts[2]}


def _row_document(row: Mapping[str, str | None], line: int) -> tuple[dict[str, Any], list[Problem]]:
    """A CSV row as a customer document (empty cells absent), and the cells it cannot read."""
    document: dict[str, Any] = {}
    problems: list[Problem] = []
    for column in CSV_COLUMNS:
        cell = (row.get(column) or "").strip()
        if not cell:
            continue
        if column == "lifetime_value":
            try:
                document[column] = float(cell)
            except ValueError:
                problems.append(
                    Problem(pointer=pointer(line, column), detail=f"{cell!r} is not a number")
                )
        elif column == "products":
            products = [_product(e) for e in cell.split(PRODUCT_SEPARATOR) if e.strip()]
            unreadable = [p for p in products if isinstance(p, str)]
            problems += [Problem(pointer=pointer(line, column), detail=p) for p in unreadable]
            document[column] = [p for p in products if not isinstance(p, str)]
        else:
            document[column] = cell
    return document, problems


def _located(problems: list[Problem], line: int) -> list[Problem]:
    """A row's problems at `/<line>/<column>` (a product's at its column)."""
    out = []
    for p in problems:
        column = p.pointer.split("/")[1] if p.pointer else ""
        detail = p.detail if p.pointer.count("/") <= 1 else f"{p.pointer}: {p.detail}"
        out.append(
            Problem(pointer=pointer(line, column) if column else pointer(line), detail=detail)
        )
    return out


def parse_customers_csv(*, text: str, settings: Settings) -> list[Customer]:
    """Every customer of a CSV file (a header line, then one customer per line).

    Rejected with every problem of every row, each at `/<line>/<column>` (the header is line 1).
    """
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = reader.fieldnames or []
    problems = [
        Problem(
            pointer=pointer(1, column), detail=f"unknown column (columns: {', '.join(CSV_COLUMNS)})"
        )
        for column in header
        if column not in CSV_COLUMNS
    ]
    problems += [
        Problem(pointer=pointer(1), detail=f"the header has no {column!r} column")
        for column in ("id", "name")
        if column not in header
    ]
    if problems:
        raise Rejected(problems)
    customers: list[Customer] = []
    first: dict[str, int] = {}
    try:
        rows = list(reader)
    except csv.Error as exc:
        raise Rejected(
            [Problem(pointer=pointer(reader.line_num), detail=f"not valid CSV: {exc}")]
        ) from exc
    if len(rows) > MAX_IMPORT_ROWS:
        raise Rejected([Problem(pointer="", detail=f"at most {MAX_IMPORT_ROWS} customers")])
    for index, row in enumerate(rows):
        line = index + 2
        if None in row:
            problems.append(Problem(pointer=pointer(line), detail="more cells than columns"))
            continue
        document, unreadable = _row_document(row, line)
        problems += unreadable
        try:
            customer = check_customer(document=document, settings=settings)
        except Rejected as exc:
            problems += _located(exc.problems, line)
            continue
        if customer.id in first:
            problems.append(
                Problem(
                    pointer=pointer(line, "id"),
                    detail=f"customer {customer.id!r} is also on line {first[customer.id]}",
                )
            )
        first.setdefault(customer.id, line)
        customers.append(customer)
    if problems:
        raise Rejected(problems)
    return customers


async def import_customers(
    *, session: AsyncSession, text: str, actor: Actor, settings: Settings, now: datetime
) -> list[CustomerRow]:
    """Store every customer of a CSV file, or none: every row is checked first."""
    customers = parse_customers_csv(text=text, settings=settings)
    taken = await store.existing_customers(session=session, ids=[c.id for c in customers])
    if taken:
        lines = {c.id: i + 2 for i, c in enumerate(customers)}
        raise Rejected(
            [
                Problem(
                    pointer=pointer(lines[cid], "id"), detail=f"customer {cid!r} exists already"
                )
                for cid in sorted(taken, key=lines.__getitem__)
            ]
        )
    return [
        await store.insert_customer(session=session, customer=c, created_by=actor.user, now=now)
        for c in customers
    ]


def consent_document(grant: ConsentRow, revocation: ConsentRevocationRow | None) -> dict[str, Any]:
    """One consent as the API shows it, with its revocation if it has one."""
    return {
        "id": grant.id,
        "purpose": grant.purpose,
        "channel": grant.channel,
        "text": grant.text,
        "given_at": grant.given_at,
        "recorded_at": grant.recorded_at,
        "recorded_by": grant.recorded_by,
        "revoked_at": revocation.revoked_at if revocation else None,
        "revoked_by": revocation.revoked_by if revocation else None,
        "revoked_via": revocation.via if revocation else None,
    }


def customer_document(row: CustomerRow, entries: Ledger | None, now: datetime) -> dict[str, Any]:
    """A stored customer, with its consents and the purposes in force now when `entries` (its
    ledger) is given: what is then redacted for the caller."""
    document = {**row.document, "created_at": row.created_at, "created_by": row.created_by}
    if entries is not None:
        document["consents"] = [consent_document(g, r) for g, r in entries]
        document["consenting_to"] = in_force(ledger(entries), now)
    return document


def token_hash(token: str) -> str:
    """What is stored of a revocation link's token."""
    return hashlib.sha256(token.encode()).hexdigest()


async def record_consent(
    *, session: AsyncSession, customer_id: str, document: object, actor: Actor, now: datetime
) -> tuple[ConsentRow, str]:
    """Record consent given; returns it and its revocation link's token (shown this once)."""
    try:
        grant = ConsentGrant.model_validate(document)
    except ValidationError as exc:
        raise Rejected(model_problems(exc=exc)) from exc
    given_at = grant.given_at or now
    if given_at.tzinfo is None:
        raise Rejected([Problem(pointer="/given_at", detail="give a time zone (e.g. Z or +08:00)")])
    if given_at > now:
        raise Rejected(
            [Problem(pointer="/given_at", detail="consent cannot be given in the future")]
        )
    token = secrets.token_urlsafe(32)
    row = await store.insert_consent(
        session=session,
        customer_id=customer_id,
        grant=grant,
        given_at=given_at,
        recorded_by=actor.user,
        token_sha256=token_hash(token),
        now=now,
    )
    return row, token


async def _revoke(
    *,
    session: AsyncSession,
    customer_id: str,
    purpose: Purpose,
    by: str,
    via: RevokedVia,
    now: datetime,
    client: Client,
    settings: Settings,
) -> ConsentRevoked | None:
    """Add a revocation after every consent to the purpose not yet revoked (none: None)."""
    entries = await store.consents_of(session=session, customer_id=customer_id)
    open_grants = [g for g, r in entries if g.purpose == purpose and r is None]
    if not open_grants:
        return None
    for grant in open_grants:
        await store.insert_revocation(
            session=session, consent=grant, revoked_by=by, via=via, now=now
        )
    revoked = ConsentRevoked(customer_id=customer_id, purpose=purpose, at=now, via=via, by=by)
    if purpose == "sentiment_analysis":
        # Before the revocation commits: it takes effect at once or not at all (a 503).
        await stop_sentiment(client=client, settings=settings, customer_id=customer_id, at=now)
    return revoked


async def revoke_consent(
    *,
    session: AsyncSession,
    customer_id: str,
    purpose: Purpose,
    actor: Actor,
    now: datetime,
    client: Client,
    settings: Settings,
) -> ConsentRevoked | None:
    """Revoke a purpose for a customer; None when no consent to it is open."""
    return await _revoke(
        session=session,
        customer_id=customer_id,
        purpose=purpose,
        by=actor.user,
        via="api",
        now=now,
        client=client,
        settings=settings,
    )


async def revoke_by_link(
    *, session: AsyncSession, token: str, now: datetime, client: Client, settings: Settings
) -> ConsentRevoked | None:
    """Revoke the purpose a customer's link was given for; None for a spent or unknown token."""
    grant = await store.consent_by_token(session=session, token_sha256=token_hash(token))
    if grant is None or grant.token_used_at is not None:
        return None
    return await _revoke(
        session=session,
        customer_id=grant.customer_id,
        purpose=cast(Purpose, grant.purpose),
        by=CUSTOMER_ACTOR,
        via="link",
        now=now,
        client=client,
        settings=settings,
    )


async def tell_care_of_revocation(
    *, session: AsyncSession, temporal: Client, revoked: ConsentRevoked
) -> list[str]:
    """Signal the customer's running care workflows of a committed revocation, at once.

    Returns the tickets whose care was told. A care workflow that cannot be reached now still
    reads the ledger before each message it sends, so a failed signal is logged, not raised.
    """
    log = logging.getLogger("ticketflow.care")
    log.info(
        "consent to %s revoked for customer %s via %s",
        revoked.purpose,
        revoked.customer_id,
        revoked.via,
    )
    told = []
    signal = ConsentRevokedInput(purpose=revoked.purpose, at=revoked.at)
    for ticket_key in await care_store.running_care(
        session=session, customer_id=revoked.customer_id
    ):
        handle = temporal.get_workflow_handle(care_workflow_id(ticket_key))
        try:
            await handle.signal(CARE_REVOKED_SIGNAL, signal)
        except RPCError as exc:
            log.warning("care of %s not told of the revocation: %s", ticket_key, exc.message)
            continue
        told.append(ticket_key)
    return told


async def intake_customer_problems(
    *, session: AsyncSession, data: Mapping[str, Any]
) -> list[Problem]:
    """The intake's `customer_id`, when it names one, must be a known customer (pointers
    relative to the intake)."""
    if "customer_id" not in data:
        return []
    named = data["customer_id"]
    if (
        not isinstance(named, str)
        or await store.get_customer(session=session, customer_id=named) is None
    ):
        return [Problem(pointer="/customer_id", detail=f"no customer {named!r}")]
    return []
