"""The device registry: immutable versions numbered per device, and the snapshots taken."""

from __future__ import annotations

import base64
import json
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.devices import Device, Snapshot
from store.models import DeviceRow, DeviceSnapshotRow
from store.tickets import BadCursor


def _encode_cursor(device_id: str) -> str:
    return base64.urlsafe_b64encode(json.dumps([device_id]).encode()).decode()


def _decode_cursor(cursor: str) -> str:
    try:
        (device_id,) = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, TypeError, RecursionError) as exc:
        raise BadCursor("cursor is not valid") from exc
    if not isinstance(device_id, str):
        raise BadCursor("cursor is not valid")
    return device_id


async def next_device_version(*, session: AsyncSession, device_id: str) -> int:
    """The number the next registered version of this device gets."""
    current = await session.scalar(
        select(func.max(DeviceRow.version)).where(DeviceRow.device_id == device_id)
    )
    return (current or 0) + 1


async def insert_device(
    *, session: AsyncSession, device: Device, registered_by: str, now: datetime
) -> DeviceRow:
    """Store a checked device as the next version of its id (an IntegrityError if a concurrent
    registration took that number first)."""
    version = await next_device_version(session=session, device_id=device.id)
    row = DeviceRow(
        device_id=device.id,
        version=version,
        site=device.site,
        model=device.model,
        protocol=device.protocol,
        document=device.model_copy(update={"version": version}).model_dump(mode="json"),
        registered_at=now,
        registered_by=registered_by,
    )
    session.add(row)
    await session.flush()
    return row


async def get_device(
    *, session: AsyncSession, device_id: str, version: int | None = None
) -> DeviceRow | None:
    """A device version, or the latest one when no version is given."""
    query = select(DeviceRow).where(DeviceRow.device_id == device_id)
    if version is not None:
        query = query.where(DeviceRow.version == version)
    return await session.scalar(query.order_by(DeviceRow.version.desc()).limit(1))


async def list_devices(
    *, session: AsyncSession, limit: int, cursor: str | None = None, site: str | None = None
) -> tuple[list[DeviceRow], str | None]:
    """A page of devices (the latest version of each) by id, and the next page's cursor."""
    latest = select(DeviceRow.device_id, func.max(DeviceRow.version).label("version")).group_by(
        DeviceRow.device_id
    )
    if site is not None:
        latest = latest.where(DeviceRow.site == site)
    if cursor:
        latest = latest.where(DeviceRow.device_id > _decode_cursor(cursor))
    newest = latest.subquery()
    query = (
        select(DeviceRow)
        .join(
            newest,
            (DeviceRow.device_id == newest.c.device_id) & (DeviceRow.version == newest.c.version),
        )
        .order_by(DeviceRow.device_id)
        .limit(limit + 1)
    )
    rows = list((await session.scalars(query)).all())
    next_cursor = _encode_cursor(rows[limit - 1].device_id) if len(rows) > limit else None
    return rows[:limit], next_cursor


async def insert_snapshot(
    *,
    session: AsyncSession,
    snapshot: Snapshot,
    ticket_key: str | None = None,
    taken_by: str | None = None,
    department: str | None = None,
) -> DeviceSnapshotRow:
    """Store a sealed snapshot, for the ticket it was taken for or the caller who asked."""
    row = DeviceSnapshotRow(
        device_id=snapshot.device_id,
        device_version=snapshot.device_version,
        site=snapshot.site,
        taken_at=snapshot.taken_at,
        sha256=snapshot.sha256,
        document=snapshot.model_dump(mode="json"),
        ticket_key=ticket_key,
        taken_by=taken_by,
        department=department,
    )
    session.add(row)
    await session.flush()
    return row


async def list_snapshots(
    *, session: AsyncSession, device_id: str, limit: int
) -> list[DeviceSnapshotRow]:
    """A device's latest snapshots, newest first."""
    query = (
        select(DeviceSnapshotRow)
        .where(DeviceSnapshotRow.device_id == device_id)
        .order_by(DeviceSnapshotRow.taken_at.desc(), DeviceSnapshotRow.id.desc())
        .limit(limit)
    )
    return list((await session.scalars(query)).all())


async def list_ticket_snapshots(*, session: AsyncSession, key: str) -> list[DeviceSnapshotRow]:
    """The snapshots taken for a ticket, oldest first."""
    query = (
        select(DeviceSnapshotRow)
        .where(DeviceSnapshotRow.ticket_key == key)
        .order_by(DeviceSnapshotRow.taken_at, DeviceSnapshotRow.id)
    )
    return list((await session.scalars(query)).all())
