"""The ticket worker: TicketWorkflow plus the activities it calls, on one task queue."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.worker import Worker

from activities.actions.registry import ActionRegistry, action_registry
from activities.child_tickets import ChildTicketActivities
from activities.device_lookup import DeviceLookupActivities
from activities.notifications import NotificationActivities
from activities.projection import ProjectionActivities
from activities.sentiment import SentimentActivities
from activities.triage import TriageActivities
from ticketflow.settings import get_settings
from workers.device_alarms import ALARM_WORKFLOWS, alarm_activities
from workflows.device_snapshot import DeviceSnapshotWorkflow
from workflows.sentiment import CustomerSentimentWorkflow
from workflows.ticket import TicketWorkflow

# Retraining has its own worker and task queue (workers/training.py); the snapshot workflow
# runs here and sends its one activity to the device's edge queue (workers/edge.py).
WORKFLOWS = [TicketWorkflow, DeviceSnapshotWorkflow, CustomerSentimentWorkflow, *ALARM_WORKFLOWS]


def build_ticket_worker(
    *,
    client: Client,
    task_queue: str,
    sessions: async_sessionmaker[AsyncSession],
    data_dir: Path | None = None,
    actions: ActionRegistry | None = None,
) -> Worker:
    """A worker serving tickets' workflows and activities (models under `data_dir`), and every
    action of `actions` (by default the built-ins, configured by the process's settings).

    The device lookup is always served here; the device reads it leads to run on the edge
    queues (`edge-<site>`), which this worker never serves.
    """
    projection = ProjectionActivities(sessions)
    children = ChildTicketActivities(sessions, projection.write_turn)
    notifications = NotificationActivities(sessions, projection.write_turn)
    triage = TriageActivities(sessions, data_dir or get_settings().data_dir)
    sentiment = SentimentActivities(sessions, data_dir or get_settings().data_dir)
    devices = DeviceLookupActivities(sessions)
    return Worker(
        client,
        task_queue=task_queue,
        workflows=WORKFLOWS,
        activities=[
            projection.project_ticket,
            notifications.record_notifications,
            triage.triage_ticket,
            sentiment.score_message,
            sentiment.purge,
            children.reserve_child_ticket,
            devices.find_device,
            *(actions or action_registry(get_settings())).activities,
            *alarm_activities(sessions=sessions, task_queue=task_queue, settings=get_settings()),
        ],
    )
