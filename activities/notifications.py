"""The notification activity: records every notification per recipient, idempotently."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession
from temporalio import activity

from activities.projection import GroupCommit
from domain.notifications import NOTIFY_ACTIVITY, NotifyInput, NotifyResult
from store.notifications import record_notifications


class NotificationActivities:
    """Records notifications in the projection's shared transactions."""

    def __init__(self, group_commit: GroupCommit) -> None:
        # The projection's turns: on SQLite both write the same file, one writer at a time,
        # and an SLA firing's notifications share a commit with the projections around them.
        self._group_commit = group_commit

    @activity.defn(name=NOTIFY_ACTIVITY)
    async def record_notifications(self, batch: NotifyInput) -> NotifyResult:
        """Record each notification once per (ticket, event, recipient).

        No delivery channel exists yet, so each is stored with channel `none` and status
        `recorded`; a webhook channel would deliver here and set the status it reached.
        """

        async def write(session: AsyncSession) -> int:
            return await record_notifications(session=session, batch=batch, channel="none")

        return NotifyResult(recorded=await self._group_commit.write(write))
