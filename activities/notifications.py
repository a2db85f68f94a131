"""The notification activity: records every notification per recipient, idempotently."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from domain.notifications import NOTIFY_ACTIVITY, NotifyInput, NotifyResult
from store.notifications import record_notifications


class NotificationActivities:
    """Holds the session factory notifications are recorded with."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        write_turn: AbstractAsyncContextManager[object],
    ) -> None:
        self._sessions = sessions
        # The projection's queue: on SQLite both write the same file, one writer at a time.
        self._write_turn = write_turn

    @activity.defn(name=NOTIFY_ACTIVITY)
    async def record_notifications(self, batch: NotifyInput) -> NotifyResult:
        """Record each notification once per (ticket, event, recipient).

        No delivery channel exists yet, so each is stored with channel `none` and status
        `recorded`; a webhook channel would deliver here and set the status it reached.
        """
        async with self._write_turn, self._sessions() as session, session.begin():
            recorded = await record_notifications(session=session, batch=batch, channel="none")
        return NotifyResult(recorded=recorded)
