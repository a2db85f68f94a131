"""The ticket worker's alarm activities on a real SQLite file: what they refuse, and the registry.

The filing and signalling of open tickets run end to end in tests/workflows/test_device_alarms.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment

from activities.device_alarms import AlarmTicketActivities, definition_map
from domain.device_alarm_tickets import (
    ALARM_TICKET_REFUSED,
    AlarmReport,
    AlarmTicketInput,
    SiteDevicesInput,
)
from domain.device_alarms import alarm_summary
from domain.device_reading import snapshot_of
from domain.ticket import Actor
from services.device_alarms import file_alarm_ticket
from services.devices import register_device
from store.models import IdempotencyRow, TicketRow
from tests.dbutil import migrated_sessions, sqlite_url
from tests.domain.test_device_alarms import curve, pump
from tests.temporal_env import time_skipping_env
from ticketflow.settings import Settings

NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
async def env() -> AsyncIterator[WorkflowEnvironment]:
    """A time-skipping server: the filing's client (nothing reaches it when filing is refused)."""
    environment = await time_skipping_env()
    try:
        yield environment
    finally:
        await environment.shutdown()


@pytest.fixture
async def sessions(tmp_path: Path) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    async with migrated_sessions(sqlite_url(tmp_path)) as made:
        yield made


def activities(sessions: async_sessionmaker[AsyncSession]) -> AlarmTicketActivities:
    return AlarmTicketActivities(
        sessions,
        file=file_alarm_ticket,
        task_queue="tickets",
        definition_for=definition_map({"KSB Etanorm": "pump-alarm"}, "device-alarm"),
    )


def report() -> AlarmReport:
    summary = alarm_summary(pump(), "anomaly", "vibration", curve(2.0, 2.4), 0.7)
    return AlarmReport(summary=summary, snapshot=snapshot_of(pump(), [], taken_at=NOW))


def test_a_model_files_on_its_mapped_definition_or_the_default() -> None:
    definition_for = definition_map({"KSB Etanorm": "pump-alarm"}, "device-alarm")
    assert definition_for("KSB Etanorm") == "pump-alarm"
    assert definition_for("Acme PLC 200") == "device-alarm"


async def test_no_published_definition_is_refused_for_good_and_files_nothing(
    sessions: async_sessionmaker[AsyncSession], env: WorkflowEnvironment
) -> None:
    with pytest.raises(ApplicationError) as refused:
        await ActivityEnvironment(client=env.client).run(
            activities(sessions).open_alarm_ticket, AlarmTicketInput(report=report())
        )
    assert refused.value.type == ALARM_TICKET_REFUSED
    assert refused.value.non_retryable
    assert "no published definition pump-alarm" in refused.value.message
    async with sessions() as session:
        for table in (TicketRow, IdempotencyRow):
            assert await session.scalar(select(func.count()).select_from(table)) == 0


@pytest.mark.parametrize("status", ["closed", "cancelled", None])
async def test_an_ended_or_unknown_ticket_is_not_signalled(
    sessions: async_sessionmaker[AsyncSession], status: str | None
) -> None:
    if status is not None:
        async with sessions() as session:
            session.add(
                TicketRow(
                    key="DA-000001",
                    definition_key="device-alarm",
                    definition_version=1,
                    department="maintenance",
                    title="Device alarm",
                    status=status,
                    requester="device-alarms",
                    intake={},
                    created_at=NOW,
                    updated_at=NOW,
                    last_seq=1,
                )
            )
            await session.commit()
    # No client: an ended ticket is answered from the projection, before any signal.
    sent = await ActivityEnvironment().run(
        activities(sessions).signal_alarm_ticket,
        AlarmTicketInput(report=report(), ticket_key="DA-000001"),
    )
    assert (sent.ticket_key, sent.delivered) == ("DA-000001", False)


async def test_a_site_lists_the_latest_version_of_its_own_devices(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    admin = Actor(user="root", role="admin")
    settings = Settings(device_hosts={"plant-a": ["127.0.0.1"], "plant-b": ["127.0.0.1"]})
    async with sessions() as session:
        pump_1 = pump().model_copy(update={"endpoint": "tcp://127.0.0.1:5020"})
        for device in (
            pump_1,
            pump_1.model_copy(update={"model": "KSB Etanorm 2"}),
            pump_1.model_copy(update={"id": "pump-2"}),
            pump_1.model_copy(update={"id": "pump-3", "site": "plant-b"}),
        ):
            await register_device(
                session=session,
                document=device.model_dump(mode="json"),
                actor=admin,
                settings=settings,
                now=NOW,
            )
        await session.commit()
    listed = await ActivityEnvironment().run(
        activities(sessions).list_site_devices, SiteDevicesInput(site="plant-a")
    )
    assert [(d.id, d.version, d.model) for d in listed.devices] == [
        ("pump-1", 2, "KSB Etanorm 2"),
        ("pump-2", 1, "KSB Etanorm"),
    ]
