"""CSAT and NPS summed in SQL, on SQLite and PostgreSQL, over controlled ratings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.feedback import Solution, csat_summary, nps_summary, tally
from domain.ticket import TicketStatus
from store.feedback import feedback_kpis, insert_feedback
from store.kpis import KpiFilter
from store.projection import apply_projection
from tests.store.snapshots import T0, snapshot

Sessions = async_sessionmaker[AsyncSession]
DECEMBER = datetime(2026, 12, 10, 12, 0, tzinfo=UTC)
# 23:30 on 30 November in New York is 04:30 on 1 December in UTC: a December rating.
LATE_NOVEMBER_IN_NEW_YORK = datetime(2026, 11, 30, 23, 30, tzinfo=timezone(timedelta(hours=-5)))
NOVEMBER = datetime(2026, 11, 15, 8, 0, tzinfo=UTC)

# key, definition, department, team, csat, nps, given at
RATINGS = [
    ("OPS-1", "it-incident", "it-ops", "ops", 5, 9, DECEMBER),
    ("OPS-2", "it-incident", "it-ops", "ops", 4, 8, DECEMBER),
    ("OPS-3", "it-incident", "it-ops", "ops", 3, 7, NOVEMBER),
    ("OPS-4", "it-incident", "it-ops", "ops", 2, 6, NOVEMBER),
    ("DEV-1", "repair", "field", "dev", 5, 10, LATE_NOVEMBER_IN_NEW_YORK),
    ("DEV-2", "repair", "field", "dev", 4, 9, DECEMBER),
    ("DEV-3", "repair", "field", "dev", 1, 0, NOVEMBER),
    ("NONE-1", "repair", "field", None, 5, 7, DECEMBER),
]


@pytest.fixture
async def rated(session_factory: Sessions) -> Sessions:
    """A closed ticket per rating, created a day apart, each rated once."""
    async with session_factory() as session, session.begin():
        for n, (key, definition, department, team, csat, nps, at) in enumerate(RATINGS):
            ticket = snapshot(
                key,
                definition_key=definition,
                department=department,
                status=TicketStatus.CLOSED,
                created_at=T0 + timedelta(days=n),
                tasks=[],
            )
            await apply_projection(session=session, ticket=ticket, events=[])
            await insert_feedback(
                session=session,
                ticket_key=key,
                csat=csat,
                nps=nps,
                comment=None,
                solution=Solution(stage="fix" if team else None, team=team),
                given_at=at,
                idempotency_sha256=None,
                request_sha256="0" * 64,
            )
    return session_factory


def _scores(section: dict[str, object]) -> tuple[object, ...]:
    csat, nps = section["csat"], section["nps"]
    assert isinstance(csat, dict)
    assert isinstance(nps, dict)
    return (
        csat["count"],
        csat["mean"],
        csat["satisfied_pct"],
        nps["score"],
        nps["promoters"],
        nps["passives"],
        nps["detractors"],
    )


async def test_nps_and_csat_by_team_definition_and_month(rated: Sessions) -> None:
    async with rated() as session:
        report = await feedback_kpis(session=session, filters=KpiFilter())
    # ops: NPS 9, 8, 7, 6 -> one promoter, two passives, one detractor: 0.
    # dev: 10, 9, 0 -> (2 - 1) / 3. No team: the one passive.
    assert {row["team"]: _scores(row) for row in report["by_team"]} == {
        "ops": (4, 3.5, 50.0, 0.0, 1, 2, 1),
        "dev": (3, 3.333, 66.67, 33.33, 2, 0, 1),
        None: (1, 5.0, 100.0, 0.0, 0, 1, 0),
    }
    assert report["by_team"][-1]["team"] is None  # teams first, by name; the untold last
    assert {row["definition"]: _scores(row) for row in report["by_definition"]} == {
        "it-incident": (4, 3.5, 50.0, 0.0, 1, 2, 1),
        "repair": (4, 3.75, 75.0, 25.0, 2, 1, 1),
    }
    assert [row["period"] for row in report["by_period"]] == ["2026-11", "2026-12"]
    months = {row["period"]: _scores(row) for row in report["by_period"]}
    # November: 7, 6, 0 (the New York evening is December in UTC).
    assert months["2026-11"] == (3, 2.0, 0.0, -66.67, 0, 1, 2)
    assert months["2026-12"] == (5, 4.6, 100.0, 60.0, 3, 2, 0)
    assert _scores(report["overall"]) == (8, 3.625, 62.5, 12.5, 3, 3, 2)


async def test_sql_and_the_domain_agree_on_every_group(rated: Sessions) -> None:
    async with rated() as session:
        report = await feedback_kpis(session=session, filters=KpiFilter())
    for row in report["by_team"]:
        counts = tally(
            (csat, nps) for _, _, _, team, csat, nps, _ in RATINGS if team == row["team"]
        )
        assert row["csat"] == csat_summary(counts).model_dump()
        assert row["nps"] == nps_summary(counts).model_dump()


async def test_the_kpi_filters_choose_the_rated_tickets(rated: Sessions) -> None:
    async with rated() as session:
        repair = await feedback_kpis(session=session, filters=KpiFilter(definition_key="repair"))
        ops = await feedback_kpis(session=session, filters=KpiFilter(department="it-ops"))
        # Created on days 2 to 4: OPS-3, OPS-4, DEV-1.
        window = KpiFilter(created_from=T0 + timedelta(days=2), created_to=T0 + timedelta(days=5))
        created = await feedback_kpis(session=session, filters=window)
        nothing = await feedback_kpis(session=session, filters=KpiFilter(definition_key="nope"))
    assert [row["definition"] for row in repair["by_definition"]] == ["repair"]
    assert {row["team"] for row in repair["by_team"]} == {"dev", None}
    assert _scores(ops["overall"]) == (4, 3.5, 50.0, 0.0, 1, 2, 1)
    assert _scores(created["overall"]) == (3, 3.333, 33.33, 0.0, 1, 1, 1)
    assert _scores(nothing["overall"]) == (0, None, None, None, 0, 0, 0)
    assert nothing["by_team"] == nothing["by_definition"] == nothing["by_period"] == []


async def test_a_ticket_is_rated_once(rated: Sessions) -> None:
    with pytest.raises(IntegrityError):
        async with rated() as session, session.begin():
            await insert_feedback(
                session=session,
                ticket_key="OPS-1",
                csat=1,
                nps=0,
                comment="again",
                solution=Solution(),
                given_at=DECEMBER,
                idempotency_sha256=None,
                request_sha256="1" * 64,
            )
    async with rated() as session:
        report = await feedback_kpis(session=session, filters=KpiFilter())
    assert report["overall"]["csat"]["count"] == len(RATINGS)
