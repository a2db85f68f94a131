"""Importing customers from CSV: every row checked first, all or nothing, row and column named."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.problems import Rejected
from domain.ticket import Actor
from services.customers import import_customers, parse_customers_csv
from store.models import CustomerRow
from tests.dbutil import database_params, fresh_database, migrated_sessions
from ticketflow.settings import Settings

SETTINGS = Settings()
CLI = Actor(user="cli", role="admin")
HEADER = "id,name,email,phone,address,tier,lifetime_value,region,products\n"
GOOD = HEADER + (
    "C-1,Li Wei,li@example.com,+86 138 0000 5678,1 Garden Rd,,12500,east,"
    "AC-200|Air conditioner|2025-06-01;F-1|Filter|2025-07-01\n"
    'C-2,"Chen, Jing",,,,standard,,north,\n'
)


def test_a_good_file_reads_every_customer() -> None:
    one, two = parse_customers_csv(text=GOOD, settings=SETTINGS)
    assert (one.id, one.tier, [p.product_id for p in one.products]) == (
        "C-1",
        "vip",
        ["AC-200", "F-1"],
    )
    assert (two.name, two.tier, two.email, two.region) == ("Chen, Jing", "standard", None, "north")


@pytest.mark.parametrize(
    ("text", "pointers"),
    [
        (HEADER + "C 1,A,,,,basic,,,\n", ["/2/id"]),
        (HEADER + "C-1,A,nope,,,gold,,,\n", ["/2/email", "/2/tier"]),
        (HEADER + "C-1,A,,,,,lots,,\n", ["/2/lifetime_value", "/2/tier"]),
        (HEADER + "C-1,A,,,,basic,,,AC-200|Fan\n", ["/2/products"]),
        (HEADER + "C-1,A,,,,basic,,,AC-200|Fan|2025-02-30\n", ["/2/products"]),
        (HEADER + "C-1,A,,,,basic,,,\nC-1,B,,,,basic,,,\n", ["/3/id"]),
        (HEADER + "C-1,A,,,,basic,,,,extra\n", ["/2"]),
        ("id,name,colour\nC-1,A,red\n", ["/1/colour"]),
        ("name,tier\nA,basic\n", ["/1"]),
    ],
)
def test_problems_point_at_row_and_column(text: str, pointers: list[str]) -> None:
    with pytest.raises(Rejected) as refused:
        parse_customers_csv(text=text, settings=SETTINGS)
    assert [p.pointer for p in refused.value.problems] == pointers


def test_every_bad_row_is_reported_at_once() -> None:
    text = GOOD + "C 3,A,,,,basic,,,\nC-4,,x,,,basic,,,\n"
    with pytest.raises(Rejected) as refused:
        parse_customers_csv(text=text, settings=SETTINGS)
    assert [p.pointer for p in refused.value.problems] == ["/4/id", "/5/name", "/5/email"]


@pytest.fixture(params=database_params())
async def sessions(request: pytest.FixtureRequest, tmp_path: object) -> object:
    with fresh_database(request.param, tmp_path, migrated=True) as url:  # type: ignore[arg-type]
        async with migrated_sessions(url) as factory:
            yield factory


async def count(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(CustomerRow)) or 0)


async def test_an_import_is_all_or_nothing(sessions: async_sessionmaker[AsyncSession]) -> None:
    now = datetime.now(UTC)
    bad = GOOD + "C-3,A,,,,gold,,,\n"
    async with sessions() as session, session.begin():
        with pytest.raises(Rejected) as refused:
            await import_customers(session=session, text=bad, actor=CLI, settings=SETTINGS, now=now)
    assert [p.pointer for p in refused.value.problems] == ["/4/tier"]
    assert await count(sessions) == 0
    async with sessions() as session, session.begin():
        rows = await import_customers(
            session=session, text=GOOD, actor=CLI, settings=SETTINGS, now=now
        )
    assert [r.id for r in rows] == ["C-1", "C-2"]
    again = HEADER + "C-9,New,,,,basic,,,\n" + GOOD.split("\n", 1)[1]
    async with sessions() as session, session.begin():
        with pytest.raises(Rejected) as taken:
            await import_customers(
                session=session, text=again, actor=CLI, settings=SETTINGS, now=now
            )
    assert [(p.pointer, p.detail) for p in taken.value.problems] == [
        ("/3/id", "customer 'C-1' exists already"),
        ("/4/id", "customer 'C-2' exists already"),
    ]
    assert await count(sessions) == 2
