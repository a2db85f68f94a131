"""The rolling window of samples: the last minutes per point, bounded, with explicit times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.device_window import DeviceWindow, DeviceWindows
from domain.devices import Reading

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    """T0 plus some seconds."""
    return T0 + timedelta(seconds=seconds)


def good(point: str, value: float, seconds: float | None = None) -> Reading:
    """A good reading, with a source time when given."""
    return Reading(point=point, value=value, source_time=None if seconds is None else at(seconds))


def curve(window: DeviceWindow, point: str, now: float) -> list[tuple[float, float | int | bool]]:
    """The point's curve as (seconds after T0, value)."""
    return [
        ((s.at - T0).total_seconds(), s.value) for s in window.curves(now=at(now)).get(point, [])
    ]


def test_samples_older_than_the_window_are_dropped() -> None:
    window = DeviceWindow(minutes=1)
    for second in range(0, 121, 30):
        window.add([good("temp", second)], at=at(second))
    assert curve(window, "temp", 120) == [(60.0, 60), (90.0, 90), (120.0, 120)]


def test_curves_drop_old_samples_even_without_new_ones() -> None:
    window = DeviceWindow(minutes=1)
    window.add([good("temp", 1.0)], at=at(0))
    window.add([good("temp", 2.0)], at=at(50))
    assert (curve(window, "temp", 100), window.curves(now=at(200))) == ([(50.0, 2.0)], {})


def test_a_point_keeps_at_most_max_samples() -> None:
    window = DeviceWindow(minutes=60, max_samples=3)
    for second in range(10):
        window.add([good("temp", second)], at=at(second))
    assert curve(window, "temp", 10) == [(7.0, 7), (8.0, 8), (9.0, 9)]


def test_source_time_wins_and_a_repeated_one_is_one_sample() -> None:
    window = DeviceWindow(minutes=5)
    window.add([good("temp", 1.0, seconds=-2)], at=at(0))
    window.add([good("temp", 1.0, seconds=-2)], at=at(1))
    window.add([good("temp", 3.0, seconds=1.5)], at=at(2))
    assert curve(window, "temp", 2) == [(-2.0, 1.0), (1.5, 3.0)]


def test_bad_readings_are_not_samples() -> None:
    window = DeviceWindow(minutes=5)
    window.add(
        [good("temp", 1.0), Reading(point="rpm", quality="bad", reason="ILLEGAL_ADDRESS (2)")],
        at=at(0),
    )
    assert sorted(window.curves(now=at(0))) == ["temp"]


def test_points_keep_their_own_curves() -> None:
    window = DeviceWindow(minutes=5)
    window.add([good("a", 1.0), good("b", 2.0)], at=at(0))
    window.add([good("a", 3.0)], at=at(10))
    assert (curve(window, "a", 10), curve(window, "b", 10)) == (
        [(0.0, 1.0), (10.0, 3.0)],
        [(0.0, 2.0)],
    )


@pytest.mark.parametrize(("minutes", "samples"), [(0, 10), (5, 0)])
def test_a_window_needs_a_span_and_room(minutes: int, samples: int) -> None:
    with pytest.raises(ValueError, match="at least"):
        DeviceWindow(minutes=minutes, max_samples=samples)


def test_windows_renew_when_the_span_changes() -> None:
    windows = DeviceWindows()
    first = windows.window("press-7", minutes=5)
    same, renewed = windows.window("press-7", minutes=5), windows.window("press-7", minutes=10)
    assert (same is first, renewed is first) == (True, False)
