"""A test-only fault hook: a worker SIGKILLs itself at a chosen point of a ticket's life.

Inert unless `TICKETFLOW_CHAOS_KILL_DIR` names a directory: only then does the ticket worker install
the interceptor below. A chaos test arms a point by writing `<dir>/<point>.arm` holding N (and
any nonce after it); the Nth call of that point in a worker process claims the arm file, writes
`<dir>/<point>.hit` (what was running, synced to disk) and SIGKILLs its own process before the
point's work (or, for `-done` points, after the work and before Temporal hears of it). The
arm file is gone by then, so the restarted worker runs on unharmed.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from temporalio import activity, workflow
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    HandleUpdateInput,
    Interceptor,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
)

from domain.care_flow import CARE_SEND_ACTIVITY
from domain.messages import PROJECT_ACTIVITY
from domain.triage import TRIAGE_ACTIVITY

KILL_DIR_ENV = "TICKETFLOW_CHAOS_KILL_DIR"
UPDATE = "update"


@dataclass(frozen=True)
class Point:
    """Where a kill lands: a call of an activity type (or of any Update handler), and when."""

    target: str
    after: bool = False
    # Which calls of the target count (every one when None), judged by the call's arguments.
    counts: Callable[[Sequence[Any]], bool] | None = None


def _records_notifications(args: Sequence[Any]) -> bool:
    """A projection that carries notifications: only an SLA firing's does."""
    return bool(args) and bool(getattr(args[0], "notifications", None))


# The points of a life a chaos test can aim at, by name.
POINTS: dict[str, Point] = {
    "triage": Point(TRIAGE_ACTIVITY),
    "update": Point(UPDATE),
    "projection": Point(PROJECT_ACTIVITY),
    "projection-done": Point(PROJECT_ACTIVITY, after=True),
    # An SLA firing projects its events and records its rungs' notifications in one call.
    "sla": Point(PROJECT_ACTIVITY, counts=_records_notifications),
    "care-send": Point(CARE_SEND_ACTIVITY),
}


class KillPoints:
    """Counts the calls of each armed point in this process and kills it at the Nth."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._lock = threading.Lock()
        # point -> (the arm file's text, calls counted under it)
        self._counts: dict[str, tuple[str, int]] = {}

    def reached(
        self, target: str, after: bool, details: dict[str, Any], args: Sequence[Any] = ()
    ) -> None:
        """Count one call of `target`; SIGKILL this process if it is an armed point's Nth."""
        for name, point in POINTS.items():
            if point.target != target or point.after != after:
                continue
            if point.counts is None or point.counts(args):
                self._count(name, details)

    def _count(self, name: str, details: dict[str, Any]) -> None:
        arm = self.directory / f"{name}.arm"
        try:
            token = arm.read_text()
        except OSError:
            return
        with self._lock:
            seen, calls = self._counts.get(name, (token, 0))
            calls = calls + 1 if seen == token else 1
            self._counts[name] = (token, calls)
            if calls != int(token.split()[0]):
                return
            claimed = self.directory / f"{name}.firing"
            try:
                # Only one caller claims the arm, even across processes.
                arm.rename(claimed)
            except OSError:
                return
            hit = {"point": name, "call": calls, "pid": os.getpid(), "at": time.time(), **details}
            with (self.directory / f"{name}.hit").open("w") as marker:
                json.dump(hit, marker)
                marker.flush()
                os.fsync(marker.fileno())
            claimed.unlink()
            os.kill(os.getpid(), signal.SIGKILL)


class _Activities(ActivityInboundInterceptor):
    def __init__(self, next: ActivityInboundInterceptor, points: KillPoints) -> None:
        super().__init__(next)
        self._points = points

    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        info = activity.info()
        details = {
            "target": info.activity_type,
            "workflow_id": info.workflow_id,
            "attempt": info.attempt,
            "local": info.is_local,
        }
        self._points.reached(info.activity_type, False, details, input.args)
        result = await super().execute_activity(input)
        self._points.reached(info.activity_type, True, details, input.args)
        return result


def _workflow_class(points: KillPoints) -> type[WorkflowInboundInterceptor]:
    class _Workflows(WorkflowInboundInterceptor):
        async def handle_update_handler(self, input: HandleUpdateInput) -> Any:
            if not workflow.unsafe.is_replaying():
                details = {"target": input.update, "workflow_id": workflow.info().workflow_id}
                # The marker is a file write: outside the sandbox's restrictions, on purpose.
                with workflow.unsafe.sandbox_unrestricted():
                    points.reached(UPDATE, False, details)
            return await super().handle_update_handler(input)

    return _Workflows


class KillPointInterceptor(Interceptor):
    """Installs the kill points on a worker's activities and Update handlers."""

    def __init__(self, points: KillPoints) -> None:
        self._points = points
        self._workflow = _workflow_class(points)

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        """Wrap every activity call."""
        return _Activities(next, self._points)

    def workflow_interceptor_class(
        self, input: WorkflowInterceptorClassInput
    ) -> type[WorkflowInboundInterceptor]:
        """Wrap every workflow's Update handlers."""
        return self._workflow


def kill_point_interceptors() -> list[Interceptor]:
    """The kill-point interceptor when `TICKETFLOW_CHAOS_KILL_DIR` is set, else none."""
    directory = os.environ.get(KILL_DIR_ENV)
    return [KillPointInterceptor(KillPoints(Path(directory)))] if directory else []
