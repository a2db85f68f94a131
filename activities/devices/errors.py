"""What a device reader raises, and the hook it calls between requests."""

from __future__ import annotations

from collections.abc import Callable

# Called before and after every request, so the activity can heartbeat while a read goes on.
Progress = Callable[[], None]


class DeviceUnreachableError(Exception):
    """The device could not be asked: refused, timed out, or the connection dropped mid-read."""


def no_progress() -> None:
    """A Progress hook that does nothing (readers used outside an activity)."""
