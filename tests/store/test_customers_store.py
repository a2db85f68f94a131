"""Customers, the consent ledger and care strategies in the database (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.care import CareStrategy
from domain.customers import ConsentGrant, Customer
from store import care as care_store
from store import customers as store
from store.models import ConsentRevocationRow, ConsentRow
from store.tickets import BadCursor

NOW = datetime(2026, 3, 1, 9, tzinfo=UTC)


def customer(cid: str, region: str = "east") -> Customer:
    return Customer(id=cid, name=f"Customer {cid}", tier="standard", region=region)


async def test_customers_are_stored_and_paged_by_id(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    async with session_factory() as session, session.begin():
        for cid, region in [("C-3", "east"), ("C-1", "north"), ("C-2", "east")]:
            await store.insert_customer(
                session=session, customer=customer(cid, region), created_by="dana", now=NOW
            )
    async with session_factory() as session:
        first, cursor = await store.list_customers(session=session, limit=2)
        assert [r.id for r in first] == ["C-1", "C-2"]
        rest, end = await store.list_customers(session=session, limit=2, cursor=cursor)
        assert ([r.id for r in rest], end) == (["C-3"], None)
        east, _ = await store.list_customers(session=session, limit=10, region="east")
        assert [r.id for r in east] == ["C-2", "C-3"]
        row = await store.get_customer(session=session, customer_id="C-1")
        assert row is not None
        assert (row.tier, row.region, row.created_at) == ("standard", "north", NOW)
        assert row.document["name"] == "Customer C-1"
        assert await store.existing_customers(session=session, ids=["C-1", "C-9"]) == {"C-1"}
        with pytest.raises(BadCursor):
            await store.list_customers(session=session, limit=2, cursor="not-a-cursor")


async def test_a_taken_id_is_refused_by_the_database(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    async with session_factory() as session, session.begin():
        await store.insert_customer(
            session=session, customer=customer("C-1"), created_by="a", now=NOW
        )
    async with session_factory() as session:
        with pytest.raises(IntegrityError):
            await store.insert_customer(
                session=session, customer=customer("C-1"), created_by="b", now=NOW
            )


async def test_a_revocation_is_added_and_the_consent_stays(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    grant = ConsentGrant(purpose="care_messages", channel="phone", text="May we write to you?")
    async with session_factory() as session, session.begin():
        await store.insert_customer(
            session=session, customer=customer("C-1"), created_by="a", now=NOW
        )
        consent = await store.insert_consent(
            session=session,
            customer_id="C-1",
            grant=grant,
            given_at=NOW,
            recorded_by="dana",
            token_sha256="a" * 64,
            now=NOW,
        )
        later = NOW + timedelta(days=3)
        await store.insert_revocation(
            session=session, consent=consent, revoked_by="customer", via="link", now=later
        )
    async with session_factory() as session:
        [(kept, revocation)] = await store.consents_of(session=session, customer_id="C-1")
        assert (kept.purpose, kept.channel, kept.text, kept.recorded_by) == (
            "care_messages",
            "phone",
            "May we write to you?",
            "dana",
        )
        assert kept.token_used_at == NOW + timedelta(days=3)
        assert revocation is not None
        assert (revocation.revoked_by, revocation.via) == ("customer", "link")
        found = await store.consent_by_token(session=session, token_sha256="a" * 64)
        assert found is not None
        assert found.id == kept.id
        assert await store.consent_by_token(session=session, token_sha256="b" * 64) is None
        counts = [
            await session.scalar(select(func.count()).select_from(t))
            for t in (ConsentRow, ConsentRevocationRow)
        ]
        assert counts == [1, 1]


async def test_token_hashes_are_unique(session_factory: async_sessionmaker[AsyncSession]) -> None:
    grant = ConsentGrant(purpose="care_messages", channel="web", text="Yes")
    async with session_factory() as session, session.begin():
        await store.insert_customer(
            session=session, customer=customer("C-1"), created_by="a", now=NOW
        )
    async with session_factory() as session:
        await store.insert_consent(
            session=session,
            customer_id="C-1",
            grant=grant,
            given_at=NOW,
            recorded_by="dana",
            token_sha256="c" * 64,
            now=NOW,
        )
        with pytest.raises(IntegrityError):
            await store.insert_consent(
                session=session,
                customer_id="C-1",
                grant=grant,
                given_at=NOW,
                recorded_by="dana",
                token_sha256="c" * 64,
                now=NOW,
            )


async def test_strategies_are_versioned(session_factory: async_sessionmaker[AsyncSession]) -> None:
    async with session_factory() as session, session.begin():
        for title in ("first", "second"):
            version = await care_store.next_strategy_version(session=session, key="after-repair")
            strategy = CareStrategy(key="after-repair", version=version, title=title)
            await care_store.insert_strategy(
                session=session, strategy=strategy, published_by="owner", now=NOW
            )
    async with session_factory() as session:
        latest = await care_store.get_strategy(session=session, key="after-repair")
        first = await care_store.get_strategy(session=session, key="after-repair", version=1)
        assert latest is not None
        assert first is not None
        assert (latest.version, latest.title, first.title) == (2, "second", "first")
        assert first.document["key"] == "after-repair"
        assert await care_store.get_strategy(session=session, key="after-repair", version=3) is None
