"""The problem scan: read recent tickets, find co-occurring symptoms, store the candidates."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from domain.problem_candidates import (
    ASSET_FIELDS,
    SCAN_PROBLEMS_ACTIVITY,
    ProblemScanInput,
    ProblemScanResult,
    find_candidates,
)
from store.problems import recent_symptoms, save_candidate


class ProblemScanActivities:
    """The scan's activity, bound to the app database."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    @activity.defn(name=SCAN_PROBLEMS_ACTIVITY)
    async def scan_problems(self, request: ProblemScanInput) -> ProblemScanResult:
        """Scan the last `days` of tickets and propose (or refresh) problem records."""
        now = datetime.now(UTC)
        async with self._sessions() as session:
            tickets = await recent_symptoms(
                session=session, since=now - timedelta(days=request.days), asset_fields=ASSET_FIELDS
            )
        # Pairing terms is CPU work: off the worker's event loop, which runs its heartbeats.
        candidates = await asyncio.to_thread(find_candidates, tickets, request.settings)
        outcomes: Counter[str] = Counter()
        async with self._sessions() as session, session.begin():
            for candidate in candidates:
                outcomes[await save_candidate(session=session, candidate=candidate, now=now)] += 1
        return ProblemScanResult(
            tickets=len(tickets),
            candidates=len(candidates),
            proposed=outcomes["proposed"],
            updated=outcomes["updated"],
        )
