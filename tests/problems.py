"""A ticket history with one outage behind two symptoms, stored as the projection would."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.problem_candidates import TicketSymptoms
from store.models import TicketRow
from tests.domain.test_problem_candidates import CAUSE, NOISE


def history(now: datetime) -> tuple[list[TicketSymptoms], set[str]]:
    """Ten days of noise with eight outages that each brought both symptoms; their keys."""
    rng = random.Random(7)
    # On the hour: the scan's windows are clock hours, and each outage's two symptoms come
    # 5 and 15 minutes into one (from any other start they could fall in two windows).
    start = (now - timedelta(days=10)).replace(minute=0, second=0, microsecond=0)
    tickets = [
        TicketSymptoms(
            key=f"N{i}",
            created_at=start + timedelta(minutes=rng.randrange(240 * 60)),
            title=rng.choice(NOISE),
        )
        for i in range(300)
    ]
    caused = set()
    for n, hour in enumerate(rng.sample(range(240), 8)):
        for i, title in enumerate(CAUSE):
            key = f"C{n}{i}"
            at = start + timedelta(hours=hour, minutes=5 + 10 * i)
            tickets.append(
                TicketSymptoms(key=key, created_at=at, title=title, assets={"service": "portal"})
            )
            caused.add(key)
    return tickets, caused


async def seed(
    sessions: async_sessionmaker[AsyncSession], prefix: str, tickets: list[TicketSymptoms]
) -> None:
    """The tickets as the desk's incidents (incident v1), keyed `{prefix}-{key}`."""
    async with sessions() as session, session.begin():
        for t in tickets:
            session.add(
                TicketRow(
                    key=f"{prefix}-{t.key}",
                    definition_key="incident",
                    definition_version=1,
                    department="service-desk",
                    title=t.title,
                    status="open",
                    requester="sam",
                    intake={"title": t.title, **t.assets},
                    created_at=t.created_at,
                    updated_at=t.created_at,
                    resolved_at=None,
                    closed_at=None,
                    last_seq=1,
                )
            )
