"""The ticket worker: TicketWorkflow plus the activities it calls, on one task queue."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner
from temporalio.workflow import _Definition

from activities.actions.registry import ActionRegistry, action_registry
from activities.care import CareActivities
from activities.child_tickets import ChildTicketActivities
from activities.device_lookup import DeviceLookupActivities
from activities.event_delivery import EventDeliveryActivities
from activities.notifications import NotificationActivities
from activities.projection import ProjectionActivities
from activities.recurrence import RecurrenceActivities
from activities.sentiment import SentimentActivities
from activities.triage import TriageActivities
from services.feedback_tokens import feedback_url
from ticketflow.settings import Settings, get_settings
from workers.device_alarms import ALARM_WORKFLOWS, alarm_activities
from workers.kill_points import kill_point_interceptors
from workflows.care import CareWorkflow
from workflows.device_snapshot import DeviceSnapshotWorkflow
from workflows.event_delivery import SubscriptionWorkflow
from workflows.recurrence import RecurrenceSweepWorkflow, RecurrenceWatchWorkflow
from workflows.sentiment import CustomerSentimentWorkflow
from workflows.ticket import TicketWorkflow

# Retraining has its own worker and task queue (workers/training.py); the snapshot workflow
# runs here and sends its one activity to the device's edge queue (workers/edge.py).
WORKFLOWS = [
    TicketWorkflow,
    CareWorkflow,
    DeviceSnapshotWorkflow,
    RecurrenceSweepWorkflow,
    RecurrenceWatchWorkflow,
    SubscriptionWorkflow,
    CustomerSentimentWorkflow,
    *ALARM_WORKFLOWS,
]

# Workflow classes a ticket worker of this process has validated in the sandbox.
_VALIDATED: set[type] = set()


@dataclass(frozen=True)
class _SandboxValidatingOnce(SandboxedWorkflowRunner):
    """The default sandbox, validating each workflow class once per process, not once per
    worker: validating imports the workflow's modules afresh, a good part of what building a
    worker costs, and the outcome for a class does not change (tests build hundreds)."""

    def prepare_workflow(self, defn: _Definition) -> None:
        """Validate the workflow in the sandbox unless a worker of this process did."""
        if defn.cls not in _VALIDATED:
            super().prepare_workflow(defn)
            _VALIDATED.add(defn.cls)


def build_ticket_worker(
    *,
    client: Client,
    task_queue: str,
    sessions: async_sessionmaker[AsyncSession],
    data_dir: Path | None = None,
    actions: ActionRegistry | None = None,
    settings: Settings | None = None,
    recurrence_watches: bool = False,
) -> Worker:
    """A worker serving tickets' workflows and activities (models under `data_dir`), and every
    action of `actions` (by default the built-ins, configured by the process's settings).

    The device lookup is always served here; the device reads it leads to run on the edge
    queues (`edge-<site>`), which this worker never serves. `settings` (by default the
    process's) configure the care connector and how many workflows stay cached.

    With `recurrence_watches` (as `ticketflow worker` runs it) closed tickets get their 30-day
    watch: the close's projection records it (and the recurrence sweep, which
    `ticketflow worker` schedules, ends it). Without, closes record none, and the start
    activity of watch workflows (what closed tickets of older runs still start) answers that
    none was started: for tests whose timelines end at `closed`, and for a time-skipping test
    server shared by tests that each stop their worker, where a watch workflow's day 30 would
    fall due with no worker left and stop that server from skipping time.
    """
    settings = settings or get_settings()
    projection = ProjectionActivities(sessions, recurrence_watches=recurrence_watches)
    children = ChildTicketActivities(sessions, projection.write_turn)
    notifications = NotificationActivities(projection.group_commit)
    triage = TriageActivities(sessions, data_dir or get_settings().data_dir)
    sentiment = SentimentActivities(sessions, data_dir or get_settings().data_dir)
    devices = DeviceLookupActivities(sessions)
    care = CareActivities(
        sessions,
        projection.write_turn,
        settings,
        lambda ticket_key: feedback_url(settings=settings, ticket_key=ticket_key),
    )
    recurrence = RecurrenceActivities(
        client, sessions, projection.write_turn, start_watches=recurrence_watches
    )
    deliveries = EventDeliveryActivities(
        sessions,
        projection.write_turn,
        settings.http_allowed_hosts,
        mqtt_url=settings.mqtt_url.get_secret_value() if settings.mqtt_url else None,
    )
    return Worker(
        client,
        task_queue=task_queue,
        workflows=WORKFLOWS,
        max_cached_workflows=settings.worker_max_cached_workflows,
        activities=[
            projection.project_ticket,
            notifications.record_notifications,
            triage.triage_ticket,
            sentiment.score_message,
            sentiment.purge,
            children.reserve_child_ticket,
            devices.find_device,
            care.prepare_care,
            care.record_care,
            care.send_care,
            recurrence.start_recurrence_watch,
            recurrence.record_recurrence,
            recurrence.end_recurrence_windows,
            deliveries.next_outbox_batch,
            deliveries.deliver_events,
            deliveries.pause_subscription,
            *(actions or action_registry(settings)).activities,
            *alarm_activities(sessions=sessions, task_queue=task_queue, settings=settings),
        ],
        interceptors=kill_point_interceptors(),
        workflow_runner=_SandboxValidatingOnce(),
    )
