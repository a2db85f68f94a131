"""DeviceSnapshotWorkflow: one snapshot of a device, read on its site's edge worker."""

from __future__ import annotations

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, TimeoutType
from temporalio.exceptions import TimeoutError as ActivityTimeout

with workflow.unsafe.imports_passed_through():
    from domain.definitions import RetrySpec
    from domain.device_reading import (
        SNAPSHOT_NON_RETRYABLE_ERRORS,
        SNAPSHOT_RETRY,
        SNAPSHOT_START_TO_CLOSE,
        unreachable_snapshot,
    )
    from domain.device_snapshot import (
        DEVICE_SNAPSHOT_WORKFLOW,
        SNAPSHOT_HEARTBEAT,
        SNAPSHOT_LONGEST,
        SNAPSHOT_SCHEDULE_TO_START,
        DeviceSnapshotInput,
        DeviceSnapshotResult,
    )
    from domain.devices import DEVICE_SNAPSHOT_ACTIVITY, Snapshot, SnapshotInput, edge_queue


def _retry_policy(spec: RetrySpec) -> RetryPolicy:
    """The snapshot's retry policy as the reading contract states it."""
    # Temporal refuses the whole workflow task for a maximum below the initial interval.
    return RetryPolicy(
        initial_interval=spec.initial_interval,
        backoff_coefficient=spec.backoff_coefficient,
        maximum_interval=max(spec.maximum_interval, spec.initial_interval),
        maximum_attempts=spec.maximum_attempts,
        non_retryable_error_types=list(SNAPSHOT_NON_RETRYABLE_ERRORS),
    )


def _why(exc: ActivityError, queue: str) -> str:
    """Why no attempt read the device, in words for the snapshot's readings."""
    cause = exc.cause
    if isinstance(cause, ActivityTimeout) and cause.type == TimeoutType.SCHEDULE_TO_START:
        seconds = SNAPSHOT_SCHEDULE_TO_START.total_seconds()
        return f"no edge worker took the snapshot from {queue} within {seconds:g} s"
    if isinstance(cause, ActivityTimeout):
        return f"no snapshot from {queue} in time ({cause.type.name if cause.type else cause})"
    if isinstance(cause, ApplicationError):
        return cause.message
    return str(cause or exc)


@workflow.defn(name=DEVICE_SNAPSHOT_WORKFLOW)
class DeviceSnapshotWorkflow:
    """Read a device once on its edge queue; the unreachable snapshot when that cannot be."""

    @workflow.run
    async def run(self, request: DeviceSnapshotInput) -> DeviceSnapshotResult:
        """The sealed snapshot, or every reading bad with why once the attempts are spent."""
        device = request.device
        queue = edge_queue(device.site)
        try:
            snapshot: Snapshot = await workflow.execute_activity(
                DEVICE_SNAPSHOT_ACTIVITY,
                SnapshotInput(device=device, with_curves=request.with_curves),
                result_type=Snapshot,
                task_queue=queue,
                schedule_to_start_timeout=SNAPSHOT_SCHEDULE_TO_START,
                start_to_close_timeout=SNAPSHOT_START_TO_CLOSE,
                schedule_to_close_timeout=SNAPSHOT_LONGEST,
                heartbeat_timeout=SNAPSHOT_HEARTBEAT,
                retry_policy=_retry_policy(SNAPSHOT_RETRY),
            )
        except ActivityError as exc:
            error = _why(exc, queue)
            return DeviceSnapshotResult(
                snapshot=unreachable_snapshot(device, taken_at=workflow.now(), error=error),
                unreachable=error,
            )
        return DeviceSnapshotResult(snapshot=snapshot)
