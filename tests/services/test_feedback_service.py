"""Recording feedback on SQLite and PostgreSQL: bound to the projected solution, once, even at
the same moment from two sessions."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.ticket import TicketStatus
from services.feedback import IdempotencyKeyReused, Rating, Recorded, record_feedback
from services.feedback_tokens import feedback_token
from store.models import FeedbackRow
from store.projection import apply_projection
from tests.store.snapshots import event, snapshot
from ticketflow.settings import Settings

Sessions = async_sessionmaker[AsyncSession]
SETTINGS = Settings(signing_key=SecretStr("s" * 32))
NOW = datetime(2026, 12, 20, 10, 0, tzinfo=UTC)
PATCH = {
    "version": 2,
    "sha256": "b" * 64,
    "size": 10,
    "media_type": "text/x-diff",
    "file_name": "fix.diff",
}


async def _ticket(sessions: Sessions, key: str, status: TicketStatus) -> str:
    events = [
        event(1, "created"),
        event(2, "task_completed", task=f"{key}:triage:1", stage="triage", group="service-desk"),
        event(
            3,
            "deliverable_attached",
            stage="fix",
            group="dev",
            deliverable="patch",
            attached={"patch": {**PATCH, "version": 1, "sha256": "a" * 64}},
        ),
        event(
            4,
            "deliverable_attached",
            stage="fix",
            group="dev",
            deliverable="patch",
            attached={"patch": PATCH},
        ),
        event(5, "task_completed", task=f"{key}:fix:1", stage="fix", group="dev"),
        event(6, "resolved"),
        event(7, "closed"),
    ]
    async with sessions() as session, session.begin():
        await apply_projection(
            session=session, ticket=snapshot(key, last_seq=7, status=status), events=events
        )
    return feedback_token(settings=SETTINGS, ticket_key=key)


async def _record(
    sessions: Sessions, token: str, rating: Rating, key: str | None = None
) -> Recorded | None:
    async with sessions() as session:
        recorded = await record_feedback(
            session=session,
            settings=SETTINGS,
            token=token,
            rating=rating,
            idempotency_key=key,
            now=NOW,
        )
        await (session.commit() if recorded is not None else session.rollback())
        return recorded


async def _rows(sessions: Sessions) -> list[FeedbackRow]:
    async with sessions() as session:
        return list((await session.scalars(select(FeedbackRow))).all())


async def test_a_closed_tickets_rating_is_bound_to_its_solution(session_factory: Sessions) -> None:
    token = await _ticket(session_factory, "AS-1", TicketStatus.CLOSED)
    recorded = await _record(session_factory, token, Rating(csat=4, nps=9, comment="quick"))
    assert recorded is not None
    assert not recorded.replayed
    [row] = await _rows(session_factory)
    assert (row.ticket_key, row.csat, row.nps, row.comment, row.given_at) == (
        "AS-1",
        4,
        9,
        "quick",
        NOW,
    )
    assert (row.stage, row.team, row.playbook) == ("fix", "dev", None)
    assert row.deliverables == {"patch": {"version": 2, "sha256": "b" * 64}}
    assert await _record(session_factory, token, Rating(csat=1, nps=0)) is None
    assert [r.csat for r in await _rows(session_factory)] == [4]


async def test_a_ticket_not_closed_takes_no_rating(session_factory: Sessions) -> None:
    for n, status in enumerate((TicketStatus.OPEN, TicketStatus.RESOLVED, TicketStatus.CANCELLED)):
        token = await _ticket(session_factory, f"AS-{n}", status)
        assert await _record(session_factory, token, Rating(csat=5, nps=10)) is None
    assert await _rows(session_factory) == []


async def test_two_sessions_at_once_record_one_rating(session_factory: Sessions) -> None:
    token = await _ticket(session_factory, "AS-9", TicketStatus.CLOSED)
    answers = [Rating(csat=5, nps=10), Rating(csat=1, nps=0)]
    outcomes = await asyncio.gather(*(_record(session_factory, token, a) for a in answers))
    assert sorted(o is None for o in outcomes) == [False, True]
    [row] = await _rows(session_factory)
    [won] = [a for a, o in zip(answers, outcomes, strict=True) if o is not None]
    assert (row.csat, row.nps) == (won.csat, won.nps)


async def test_a_retry_with_its_idempotency_key_gets_the_first_answer(
    session_factory: Sessions,
) -> None:
    token = await _ticket(session_factory, "AS-5", TicketStatus.CLOSED)
    rating = Rating(csat=3, nps=7)
    first = await _record(session_factory, token, rating, key="k-1")
    again = await _record(session_factory, token, rating, key="k-1")
    assert first is not None
    assert again is not None
    assert again.replayed
    assert again.row.given_at == first.row.given_at
    assert await _record(session_factory, token, rating, key="k-2") is None
    assert await _record(session_factory, token, rating) is None
    with pytest.raises(IdempotencyKeyReused):
        await _record(session_factory, token, Rating(csat=4, nps=7), key="k-1")
    assert len(await _rows(session_factory)) == 1
