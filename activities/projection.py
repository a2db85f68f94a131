"""The projection activity: one idempotent SQL write per ticket transition."""

from __future__ import annotations

import asyncio
from contextlib import AbstractAsyncContextManager, nullcontext

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from domain.messages import PROJECT_ACTIVITY, ProjectionInput, ProjectionResult
from store.projection import apply_projection


class ProjectionActivities:
    """Holds the session factory the projection writes with."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        # SQLite admits one writer at a time and makes the others sleep and retry; queueing
        # this process's writers here instead keeps busy timeouts from starving any of them.
        single_writer = sessions.kw["bind"].dialect.name == "sqlite"
        self._write_turn: AbstractAsyncContextManager[object] = (
            asyncio.Lock() if single_writer else nullcontext()
        )

    @property
    def write_turn(self) -> AbstractAsyncContextManager[object]:
        """The queue this process's SQLite writers wait in (a no-op on PostgreSQL)."""
        return self._write_turn

    @activity.defn(name=PROJECT_ACTIVITY)
    async def project_ticket(self, projection: ProjectionInput) -> ProjectionResult:
        """Write the ticket row, its task rows and its new events in one transaction."""
        async with self._write_turn, self._sessions() as session, session.begin():
            inserted = await apply_projection(
                session=session,
                ticket=projection.ticket,
                events=projection.events,
                clocks=projection.clocks,
                participants=projection.participants,
                snapshots=projection.snapshots,
            )
        return ProjectionResult(inserted=inserted)
