"""The drift detector on generated curves: a slow rise is caught below its limit, noise is not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from domain.device_alarms import threshold_alarms
from domain.devices import Device, ModbusPoint, Sample, Threshold
from triage.device_anomaly import DeviceAnomalyDetector

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
NORMAL = 300  # five minutes at one sample a second: the device's normal window
EDGE_BUFFER = 300  # what the edge keeps of each curve and hands the detector
HIGH = 8.0

PUMP = Device(
    id="pump-1",
    site="plant-a",
    model="KSB Etanorm",
    protocol="modbus-tcp",
    endpoint="127.0.0.1:5020",
    unit_id=1,
    points=[
        ModbusPoint(name="vibration", register="holding", address=0, type="float32"),
        ModbusPoint(name="temperature", register="holding", address=2, type="int16", scale=0.1),
        ModbusPoint(name="running", register="coil", address=0, type="bool"),
    ],
    thresholds={"vibration": Threshold(high=HIGH), "temperature": Threshold(high=90.0)},
)


def samples(values: np.ndarray, start: int = 0) -> list[Sample]:
    """One sample a second, the first `start` seconds after T0."""
    return [
        Sample(at=T0 + timedelta(seconds=start + i), value=float(v)) for i, v in enumerate(values)
    ]


def steady(seed: int, n: int, start: int = 0) -> dict[str, list[Sample]]:
    """Vibration around 2.0 mm/s and temperature around 45.0 °C, with noise, the pump running."""
    rng = np.random.default_rng(seed)
    return {
        "vibration": samples(2.0 + rng.normal(0, 0.1, n), start),
        # Temperature comes as an int16 scaled by 0.1: steps of a tenth of a degree.
        "temperature": samples(np.round(450 + rng.normal(0, 3, n)) / 10, start),
        "running": [Sample(at=T0 + timedelta(seconds=start + i), value=True) for i in range(n)],
    }


def trained(seed: int) -> DeviceAnomalyDetector:
    """A detector trained on the pump's first five minutes."""
    detector = DeviceAnomalyDetector(PUMP)
    detector.fit(steady(seed, NORMAL))
    return detector


def buffers(curves: dict[str, list[Sample]], end: int) -> dict[str, list[Sample]]:
    """What the edge holds at sample `end`: the last EDGE_BUFFER samples of each curve."""
    return {point: c[max(0, end - EDGE_BUFFER) : end] for point, c in curves.items()}


# Every `CONFIRM` samples: each check judges the last 30 windows, so these see every window.
CHECK_EVERY = 30


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_slow_drift_is_an_anomaly_before_it_crosses_the_threshold(seed: int) -> None:
    detector = trained(seed)
    minutes = 60
    later = steady(seed + 100, minutes * 60, start=NORMAL)
    drift_per_minute = (HIGH - 2.0) / minutes
    later["vibration"] = [
        s.model_copy(update={"value": float(s.value) + drift_per_minute * i / 60})
        for i, s in enumerate(later["vibration"])
    ]
    for end in range(CHECK_EVERY, len(later["vibration"]) + 1, CHECK_EVERY):
        now = buffers(later, end)
        alarms = detector.check(now)
        if alarms:
            break
    assert [a.type for a in alarms] == ["anomaly:vibration"]
    (alarm,) = alarms
    assert alarm.trigger["vibration"] < HIGH
    assert threshold_alarms(PUMP, now) == [], "no threshold was crossed yet"
    # Caught in the first sixth of the climb, long before the limit.
    assert alarm.trigger["vibration"] < 3.0
    # The score is the forest's anomaly score of the latest window: past the forest's cut.
    assert -detector.models["vibration"].forest.offset_ < alarm.score <= 1.0
    assert alarm.window["vibration"].slope_per_minute > 0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_steady_noise_is_never_an_anomaly(seed: int) -> None:
    detector = trained(seed)
    later = steady(seed + 200, 30 * 60, start=NORMAL)
    alarms = [
        alarm
        for end in range(CHECK_EVERY, len(later["vibration"]) + 1, CHECK_EVERY)
        for alarm in detector.check(buffers(later, end))
    ]
    assert alarms == []


def test_one_spike_is_not_an_anomaly() -> None:
    detector = trained(0)
    later = steady(300, 120, start=NORMAL)
    spike = later["vibration"][100]
    later["vibration"][100] = spike.model_copy(update={"value": 6.0})
    for end in range(100, 121):
        assert detector.check(buffers(later, end)) == []


def test_nothing_is_judged_before_the_minimum_of_normal_samples() -> None:
    detector = DeviceAnomalyDetector(PUMP, min_samples=120)
    assert detector.fit(steady(0, 119)) == frozenset()
    drifted = {"vibration": samples(np.linspace(2.0, 7.5, 100))}
    assert detector.check(drifted) == []
    assert detector.fit(steady(0, 120)) == {"vibration", "temperature"}
    assert [a.type for a in detector.check(drifted)] == ["anomaly:vibration"]


def test_bool_and_constant_points_are_not_trained() -> None:
    curves = steady(0, NORMAL)
    curves["temperature"] = samples(np.full(NORMAL, 45.0))
    assert DeviceAnomalyDetector(PUMP).fit(curves) == {"vibration"}


def test_a_curve_too_short_to_judge_has_no_verdict() -> None:
    detector = trained(0)
    # Ten samples make one window; thirty windows in a row are needed.
    assert detector.score("vibration", samples(np.full(38, 7.0))) is None
    verdict = detector.score("vibration", samples(np.full(39, 7.0)))
    assert verdict is not None
    assert verdict[0] is True


def test_the_same_training_gives_the_same_scores() -> None:
    curve = steady(7, 60, start=NORMAL)["vibration"]
    assert trained(0).score("vibration", curve) == trained(0).score("vibration", curve)


@pytest.mark.parametrize(
    ("window", "confirm", "min_samples"), [(2, 30, 120), (10, 0, 120), (10, 30, 11)]
)
def test_settings_that_cannot_judge_are_refused(
    window: int, confirm: int, min_samples: int
) -> None:
    with pytest.raises(ValueError, match="need window"):
        DeviceAnomalyDetector(PUMP, window=window, confirm=confirm, min_samples=min_samples)
