"""The ticket worker's half of a device snapshot: the registered device a ticket wants read.

The read itself runs on the device's edge worker (`activities.devices`); the workflow sends it
there with the device this activity returns (domain.device_evidence).
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from domain.device_evidence import DEVICE_LOOKUP_ACTIVITY, DEVICE_NOT_FOUND, DeviceLookupInput
from domain.devices import Device
from store import devices as devices_store


class DeviceLookupActivities:
    """Holds the session factory the registry is read with."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    @activity.defn(name=DEVICE_LOOKUP_ACTIVITY)
    async def find_device(self, request: DeviceLookupInput) -> Device:
        """The latest registered version of the device; DeviceNotFound (final) if there is none."""
        async with self._sessions() as session:
            row = await devices_store.get_device(session=session, device_id=request.device_id)
        if row is None:
            raise ApplicationError(
                f"no registered device {request.device_id!r}",
                type=DEVICE_NOT_FOUND,
                non_retryable=True,
            )
        return Device.model_validate(row.document)
