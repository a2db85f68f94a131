"""Snapshots on demand: the snapshot workflow started, awaited within a bound, its result stored."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client, WorkflowFailureError
from temporalio.exceptions import TimeoutError as TemporalTimeoutError

from domain.device_snapshot import (
    DEVICE_SNAPSHOT_WORKFLOW,
    DeviceSnapshotInput,
    DeviceSnapshotResult,
    snapshot_workflow_id,
)
from domain.devices import Device
from store import devices as store
from store.models import DeviceSnapshotRow


class SnapshotTimeout(Exception):
    """The snapshot workflow did not come back within the wait; nothing was stored."""


class SnapshotFailed(Exception):
    """The snapshot workflow failed instead of returning a snapshot; nothing was stored."""


async def take_snapshot(
    *,
    session: AsyncSession,
    client: Client,
    device: Device,
    task_queue: str,
    wait: float,
    with_curves: bool = False,
    taken_by: str | None = None,
    department: str | None = None,
) -> DeviceSnapshotRow:
    """Snapshot the device by its workflow on `task_queue`, waiting at most `wait` seconds, and
    store the snapshot it returns (taken for no ticket, at `taken_by`'s request); the caller
    commits."""
    handle = await client.start_workflow(
        DEVICE_SNAPSHOT_WORKFLOW,
        DeviceSnapshotInput(device=device, with_curves=with_curves),
        id=snapshot_workflow_id(device.id, uuid.uuid4().hex),
        task_queue=task_queue,
        result_type=DeviceSnapshotResult,
        # Past the wait nobody would store its snapshot: Temporal ends the run rather than
        # leaving it open (while no ticket worker runs, say).
        execution_timeout=timedelta(seconds=wait),
    )
    try:
        async with asyncio.timeout(wait):
            result = await handle.result()
    except TimeoutError as exc:
        raise SnapshotTimeout(f"no snapshot of {device.id} within {wait:g} s") from exc
    except WorkflowFailureError as exc:
        if isinstance(exc.cause, TemporalTimeoutError):
            raise SnapshotTimeout(f"no snapshot of {device.id} within {wait:g} s") from exc
        raise SnapshotFailed(f"the snapshot workflow of {device.id} failed: {exc.cause}") from exc
    return await store.insert_snapshot(
        session=session, snapshot=result.snapshot, taken_by=taken_by, department=department
    )
