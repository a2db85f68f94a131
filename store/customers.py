"""Customers and their consent ledger: grants, and the revocations added after them."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import cast

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.customers import ConsentEvent, ConsentGrant, Customer, Purpose
from store.models import ConsentRevocationRow, ConsentRow, CustomerRow
from store.tickets import BadCursor


def _encode_cursor(customer_id: str) -> str:
    return base64.urlsafe_b64encode(json.dumps([customer_id]).encode()).decode()


def _decode_cursor(cursor: str) -> str:
    try:
        (customer_id,) = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, TypeError, RecursionError) as exc:
        raise BadCursor("cursor is not valid") from exc
    if not isinstance(customer_id, str):
        raise BadCursor("cursor is not valid")
    return customer_id


async def insert_customer(
    *, session: AsyncSession, customer: Customer, created_by: str, now: datetime
) -> CustomerRow:
    """Store a checked customer whose tier is settled (an IntegrityError if the id is taken)."""
    row = CustomerRow(
        id=customer.id,
        region=customer.region,
        tier=customer.tier or "",
        document=customer.model_dump(mode="json"),
        created_at=now,
        created_by=created_by,
    )
    session.add(row)
    await session.flush()
    return row


async def get_customer(*, session: AsyncSession, customer_id: str) -> CustomerRow | None:
    """A customer by id."""
    return await session.get(CustomerRow, customer_id)


async def existing_customers(*, session: AsyncSession, ids: list[str]) -> set[str]:
    """Which of these ids are customers already."""
    if not ids:
        return set()
    found = await session.scalars(select(CustomerRow.id).where(CustomerRow.id.in_(ids)))
    return set(found.all())


async def list_customers(
    *, session: AsyncSession, limit: int, cursor: str | None = None, region: str | None = None
) -> tuple[list[CustomerRow], str | None]:
    """A page of customers by id, and the next page's cursor."""
    query = select(CustomerRow)
    if region is not None:
        query = query.where(CustomerRow.region == region)
    if cursor:
        query = query.where(CustomerRow.id > _decode_cursor(cursor))
    rows = list((await session.scalars(query.order_by(CustomerRow.id).limit(limit + 1))).all())
    next_cursor = _encode_cursor(rows[limit - 1].id) if len(rows) > limit else None
    return rows[:limit], next_cursor


async def insert_consent(
    *,
    session: AsyncSession,
    customer_id: str,
    grant: ConsentGrant,
    given_at: datetime,
    recorded_by: str,
    token_sha256: str,
    now: datetime,
) -> ConsentRow:
    """Record consent given, with the hash of its revocation link's token."""
    row = ConsentRow(
        customer_id=customer_id,
        purpose=grant.purpose,
        channel=grant.channel,
        text=grant.text,
        given_at=given_at,
        recorded_at=now,
        recorded_by=recorded_by,
        token_sha256=token_sha256,
        token_used_at=None,
    )
    session.add(row)
    await session.flush()
    return row


Ledger = list[tuple[ConsentRow, ConsentRevocationRow | None]]


def ledger(entries: Ledger) -> list[ConsentEvent]:
    """A customer's consent ledger from its stored grants and revocations."""
    events = []
    for grant, revocation in entries:
        purpose = cast(Purpose, grant.purpose)
        events.append(ConsentEvent(purpose=purpose, kind="granted", at=grant.given_at))
        if revocation is not None:
            events.append(ConsentEvent(purpose=purpose, kind="revoked", at=revocation.revoked_at))
    return events


async def consents_of_each(*, session: AsyncSession, customer_ids: list[str]) -> dict[str, Ledger]:
    """Every consent each of these customers gave, oldest first, with its revocation if any."""
    found: dict[str, Ledger] = {cid: [] for cid in customer_ids}
    if not customer_ids:
        return found
    query = (
        select(ConsentRow, ConsentRevocationRow)
        .outerjoin(ConsentRevocationRow, ConsentRevocationRow.consent_id == ConsentRow.id)
        .where(ConsentRow.customer_id.in_(customer_ids))
        .order_by(ConsentRow.given_at, ConsentRow.id)
    )
    for grant, revocation in (await session.execute(query)).all():
        found[grant.customer_id].append((grant, revocation))
    return found


async def consents_of(*, session: AsyncSession, customer_id: str) -> Ledger:
    """Every consent the customer gave, oldest first, each with its revocation if any."""
    return (await consents_of_each(session=session, customer_ids=[customer_id]))[customer_id]


async def consent_by_token(*, session: AsyncSession, token_sha256: str) -> ConsentRow | None:
    """The consent whose revocation link has this token hash, locked where the database can."""
    query = select(ConsentRow).where(ConsentRow.token_sha256 == token_sha256).with_for_update()
    return await session.scalar(query)


async def insert_revocation(
    *, session: AsyncSession, consent: ConsentRow, revoked_by: str, via: str, now: datetime
) -> ConsentRevocationRow:
    """Add a revocation after a consent, and spend the consent's link (the consent stays)."""
    consent.token_used_at = now
    row = ConsentRevocationRow(
        consent_id=consent.id,
        customer_id=consent.customer_id,
        purpose=consent.purpose,
        revoked_at=now,
        revoked_by=revoked_by,
        via=via,
    )
    session.add(row)
    await session.flush()
    return row
