"""Filing the ticket an alarm opens: the same path as the API's filing, for the alarm requester."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client

from domain.device_alarm_tickets import ALARM_REQUESTER, AlarmReport, alarm_id, alarm_intake
from domain.ticket import Actor
from services.ticket_creation import file_ticket, load_definition
from store.models import TicketRow

ALARM_ACTOR = Actor(user=ALARM_REQUESTER, role="system")


async def _sees_none(rows: list[TicketRow]) -> list[bool]:
    """Alarms deduplicate by device and type themselves; the text check does not apply."""
    return [False] * len(rows)


async def file_alarm_ticket(
    *,
    session: AsyncSession,
    client: Client,
    task_queue: str,
    report: AlarmReport,
    definition_key: str,
) -> str:
    """File a ticket for the alarm on the latest published `definition_key`; its key.

    The alarm's id is the Idempotency-Key, so a retried filing returns the same ticket; a
    missing definition or an intake its form refuses is `Rejected`, filing nothing.
    """
    definition = await load_definition(session=session, key=definition_key, version=None)
    created = await file_ticket(
        session=session,
        client=client,
        task_queue=task_queue,
        definition=definition,
        data=alarm_intake(report.summary),
        requester=ALARM_ACTOR,
        idempotency_key=f"alarm:{alarm_id(report.summary)}",
        may_see=_sees_none,
        allow_duplicate=True,
    )
    return created.key
