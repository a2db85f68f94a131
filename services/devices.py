"""Registering devices: checked completely, stored as versions (shared by the API and the CLI)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from domain.device_checks import device_problems
from domain.devices import Device
from domain.json_values import value_problems
from domain.problems import Problem, Rejected, pointer
from domain.ticket import Actor
from services.publishing import PUBLISH_ATTEMPTS, PublishContention
from store import devices as store
from store.models import DeviceRow
from ticketflow.settings import Settings


def check_device(*, document: object, settings: Settings, at: str = "") -> Device:
    """The device a document describes; Rejected with every problem (pointers under `at`).

    Values no database column holds (a non-finite number from YAML, say) are refused first.
    """
    problems = value_problems(document) or device_problems(
        document, allowed_hosts=settings.device_hosts
    )
    if problems:
        raise Rejected([Problem(pointer=at + p.pointer, detail=p.detail) for p in problems])
    return Device.model_validate(document)


def _content(device: Device) -> Mapping[str, object]:
    # The version is the registry's, not part of what the device is.
    return device.model_copy(update={"version": 0}).model_dump(mode="json")


def stored_device(row: DeviceRow) -> Device:
    """The device a registry row holds, with its version."""
    return Device.model_validate(dict(row.document, version=row.version))


async def _store(*, session: AsyncSession, device: Device, actor: Actor, now: datetime) -> Device:
    for _ in range(PUBLISH_ATTEMPTS):
        # Looked at again on every attempt: a concurrent registration may have stored it.
        latest = await store.get_device(session=session, device_id=device.id)
        if latest is not None and _content(stored_device(latest)) == _content(device):
            return stored_device(latest)
        try:
            async with session.begin_nested():
                row = await store.insert_device(
                    session=session, device=device, registered_by=actor.user, now=now
                )
        except IntegrityError:
            continue  # another registration took this version number; take the next one
        return stored_device(row)
    raise PublishContention("too many concurrent registrations of this device")


async def register_device(
    *, session: AsyncSession, document: object, actor: Actor, settings: Settings, now: datetime
) -> Device:
    """Check a device and store it as its id's next version, unless the latest is the same.

    A `version` in the document is ignored: the registry numbers versions.
    """
    device = check_device(document=document, settings=settings)
    return await _store(session=session, device=device, actor=actor, now=now)


async def import_devices(
    *, session: AsyncSession, documents: object, actor: Actor, settings: Settings, now: datetime
) -> list[Device]:
    """Register a list of devices, all or none: every problem of every entry is reported
    (pointers under the entry's index) before anything is written."""
    if not isinstance(documents, list):
        raise Rejected([Problem(pointer="", detail="a device import is a list of devices")])
    devices: list[Device] = []
    problems: list[Problem] = []
    first: dict[str, int] = {}
    for i, document in enumerate(documents):
        try:
            device = check_device(document=document, settings=settings, at=pointer(i))
        except Rejected as exc:
            problems += exc.problems
            continue
        if device.id in first:
            problems.append(
                Problem(
                    pointer=pointer(i, "id"),
                    detail=f"device {device.id!r} is also at /{first[device.id]}",
                )
            )
        first.setdefault(device.id, i)
        devices.append(device)
    if problems:
        raise Rejected(problems)
    return [await _store(session=session, device=d, actor=actor, now=now) for d in devices]
