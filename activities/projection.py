"""The projection activity: one idempotent SQL write per ticket transition."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from domain.messages import PROJECT_ACTIVITY, ProjectionInput, ProjectionResult
from store.projection import apply_projection


class ProjectionActivities:
    """Holds the session factory the projection writes with."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    @activity.defn(name=PROJECT_ACTIVITY)
    async def project_ticket(self, projection: ProjectionInput) -> ProjectionResult:
        """Write the ticket row, its task rows and its new events in one transaction."""
        async with self._sessions() as session, session.begin():
            inserted = await apply_projection(
                session=session, ticket=projection.ticket, events=projection.events
            )
        return ProjectionResult(inserted=inserted)
