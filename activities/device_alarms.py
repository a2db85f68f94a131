"""The ticket worker's half of alarms: file or signal alarm tickets, and list a site's devices.

Filing is the API's own path (services.ticket_creation), handed in by the worker as
`file`: an activity never writes a ticket itself, and the workflow never writes at all.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from domain.device_alarm_tickets import (
    ALARM_EVENT,
    ALARM_TICKET_REFUSED,
    OPEN_ALARM_TICKET_ACTIVITY,
    SIGNAL_ALARM_TICKET_ACTIVITY,
    SITE_DEVICES_ACTIVITY,
    AlarmReport,
    AlarmTicket,
    AlarmTicketInput,
    SiteDevices,
    SiteDevicesInput,
    alarm_event_payload,
    alarm_id,
)
from domain.devices import Device
from domain.messages import EXTERNAL_SIGNAL, ExternalEventInput
from domain.problems import Rejected
from domain.ticket import TicketStatus
from store import devices as devices_store
from store import tickets as tickets_store

# Ticket statuses an alarm no longer goes to: a new ticket opens instead.
ENDED = frozenset({TicketStatus.CLOSED.value, TicketStatus.CANCELLED.value})
PAGE = 200


class FileAlarmTicket(Protocol):
    """Files the ticket for an alarm on a definition (services.device_alarms)."""

    async def __call__(
        self,
        *,
        session: AsyncSession,
        client: Client,
        task_queue: str,
        report: AlarmReport,
        definition_key: str,
    ) -> str:
        """The new ticket's key (the same one for a retry); Rejected if it cannot be filed."""
        ...


class AlarmTicketActivities:
    """Holds the session factory, the filing path and which definition each model files on."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        file: FileAlarmTicket,
        task_queue: str,
        definition_for: Callable[[str], str],
    ) -> None:
        self._sessions = sessions
        self._file = file
        self._task_queue = task_queue
        self._definition_for = definition_for

    @activity.defn(name=OPEN_ALARM_TICKET_ACTIVITY)
    async def open_alarm_ticket(self, request: AlarmTicketInput) -> AlarmTicket:
        """File a ticket for the alarm on its model's definition and record the alarm on it."""
        report, client = request.report, activity.client()
        definition = self._definition_for(report.summary.model)
        try:
            async with self._sessions() as session:
                key = await self._file(
                    session=session,
                    client=client,
                    task_queue=self._task_queue,
                    report=report,
                    definition_key=definition,
                )
        except Rejected as exc:
            detail = "; ".join(f"{p.pointer or '/'}: {p.detail}" for p in exc.problems)
            raise ApplicationError(
                f"no ticket on {definition!r} for {report.summary.type}: {detail}",
                type=ALARM_TICKET_REFUSED,
                non_retryable=True,
            ) from exc
        await _signal(client, key, report)
        return AlarmTicket(ticket_key=key)

    @activity.defn(name=SIGNAL_ALARM_TICKET_ACTIVITY)
    async def signal_alarm_ticket(self, request: AlarmTicketInput) -> AlarmTicket:
        """Record the alarm on its open ticket; not delivered if that ticket has ended."""
        key = request.ticket_key
        if key is None:
            raise ApplicationError(
                "no ticket to signal", type=ALARM_TICKET_REFUSED, non_retryable=True
            )
        async with self._sessions() as session:
            row = await tickets_store.get_ticket(session=session, key=key)
        if row is None or row.status in ENDED:
            return AlarmTicket(ticket_key=key, delivered=False)
        delivered = await _signal(activity.client(), key, request.report)
        return AlarmTicket(ticket_key=key, delivered=delivered)

    @activity.defn(name=SITE_DEVICES_ACTIVITY)
    async def list_site_devices(self, request: SiteDevicesInput) -> SiteDevices:
        """The latest version of every device registered at the site."""
        devices: list[Device] = []
        cursor: str | None = None
        async with self._sessions() as session:
            while True:
                rows, cursor = await devices_store.list_devices(
                    session=session, limit=PAGE, cursor=cursor, site=request.site
                )
                devices += [Device.model_validate(row.document) for row in rows]
                if cursor is None:
                    return SiteDevices(devices=devices)


async def _signal(client: Client, key: str, report: AlarmReport) -> bool:
    """Send the ticket the alarm as a `device_alarm` event (once per alarm); False if it is gone."""
    event = ExternalEventInput(
        name=ALARM_EVENT,
        source=f"edge:{report.summary.site}",
        payload=alarm_event_payload(report),
        signal_id=f"alarm:{alarm_id(report.summary)}",
    )
    try:
        await client.get_workflow_handle(key).signal(EXTERNAL_SIGNAL, event)
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            raise
        return False
    return True


def definition_map(mapping: Mapping[str, str], default: str) -> Callable[[str], str]:
    """The definition a model's alarms file on: its entry in `mapping`, else `default`."""
    return lambda model: mapping.get(model, default)
