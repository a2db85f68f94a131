"""The last minutes of a device's good readings, per point, in bounded memory.

The edge worker keeps one window per device; a snapshot asked `with_curves` carries the
window's curves. Samples older than the window are dropped on every add and every look, and no
point keeps more than `max_samples`, however fast the device is polled.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from datetime import datetime, timedelta

from domain.devices import Reading, Sample

MAX_SAMPLES_PER_POINT = 3600


class DeviceWindow:
    """Recent samples of each point, oldest first, within `minutes` of the newest time seen."""

    def __init__(self, *, minutes: int, max_samples: int = MAX_SAMPLES_PER_POINT) -> None:
        if minutes < 1 or max_samples < 1:
            raise ValueError("a window needs at least one minute and one sample per point")
        self._span = timedelta(minutes=minutes)
        self._max = max_samples
        self._samples: dict[str, deque[Sample]] = {}

    def add(self, readings: Iterable[Reading], *, at: datetime) -> None:
        """Keep each good reading, at its source time (or `at`), then drop what is too old."""
        for reading in readings:
            if reading.quality != "good" or reading.value is None:
                continue
            when = reading.source_time or at
            samples = self._samples.setdefault(reading.point, deque(maxlen=self._max))
            # A server repeats a value's source time while it does not change: one sample.
            if samples and when <= samples[-1].at:
                continue
            samples.append(Sample(at=when, value=reading.value))
        self._drop_before(at - self._span)

    def curves(self, *, now: datetime) -> dict[str, list[Sample]]:
        """Each point's samples within the window ending at `now`, oldest first."""
        self._drop_before(now - self._span)
        return {point: list(samples) for point, samples in sorted(self._samples.items())}

    def _drop_before(self, cutoff: datetime) -> None:
        """Forget samples older than `cutoff`, and points left with none."""
        for point in list(self._samples):
            samples = self._samples[point]
            while samples and samples[0].at < cutoff:
                samples.popleft()
            if not samples:
                del self._samples[point]


class DeviceWindows:
    """One window per device id, renewed when the device's registered span changes."""

    def __init__(self, *, max_samples: int = MAX_SAMPLES_PER_POINT) -> None:
        self._max = max_samples
        self._windows: dict[str, tuple[int, DeviceWindow]] = {}

    def window(self, device_id: str, *, minutes: int) -> DeviceWindow:
        """The device's window spanning `minutes` (a new one if the span changed)."""
        held = self._windows.get(device_id)
        if held is None or held[0] != minutes:
            held = (minutes, DeviceWindow(minutes=minutes, max_samples=self._max))
            self._windows[device_id] = held
        return held[1]
