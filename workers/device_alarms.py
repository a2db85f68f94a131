"""What the ticket worker serves for alarms: the alarm and registry workflows, their activities."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from activities.device_alarms import AlarmTicketActivities, definition_map
from services.device_alarms import file_alarm_ticket
from ticketflow.settings import Settings
from workflows.device_alarms import DeviceAlarmsWorkflow
from workflows.site_devices import SiteDevicesWorkflow

ALARM_WORKFLOWS = [DeviceAlarmsWorkflow, SiteDevicesWorkflow]


def alarm_activities(
    *, sessions: async_sessionmaker[AsyncSession], task_queue: str, settings: Settings
) -> list[Callable[..., Any]]:
    """Filing and signalling alarm tickets (on the definitions the settings map models to, filed
    onto `task_queue`), and reading a site's registry for its edge worker."""
    alarms = AlarmTicketActivities(
        sessions,
        file=file_alarm_ticket,
        task_queue=task_queue,
        definition_for=definition_map(settings.alarm_definitions, settings.alarm_definition),
    )
    return [alarms.open_alarm_ticket, alarms.signal_alarm_ticket, alarms.list_site_devices]
