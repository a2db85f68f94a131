"""The ticket worker: TicketWorkflow plus the activities it calls, on one task queue."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.worker import Worker

from activities.notifications import NotificationActivities
from activities.projection import ProjectionActivities
from workflows.ticket import TicketWorkflow

WORKFLOWS = [TicketWorkflow]


def build_ticket_worker(
    *, client: Client, task_queue: str, sessions: async_sessionmaker[AsyncSession]
) -> Worker:
    """A worker serving tickets' workflows and activities."""
    projection = ProjectionActivities(sessions)
    notifications = NotificationActivities(sessions, projection.write_turn)
    return Worker(
        client,
        task_queue=task_queue,
        workflows=WORKFLOWS,
        activities=[projection.project_ticket, notifications.record_notifications],
    )
