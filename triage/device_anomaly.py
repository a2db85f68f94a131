"""Anomalies before a threshold: an isolation forest per point, trained on the device's normal run.

Each window of the last few samples becomes three numbers: how far its mean is from the
normal baseline (the training median), its slope, and its spread about that baseline (the
root mean square of the distances). All three are measured against the baseline rather than
the window itself because an isolation forest cannot score past the range it was trained on:
a window beyond the highest normal level lands in the same leaf as that level, and would
score no stranger. A drift moves the distance and the spread together, into a corner of the
feature space no normal window reaches; noise seldom moves both at once.

A point is judged only once it was trained on enough samples, and it alarms only when every
one of the last `confirm` windows is an outlier, so one spike of noise does not.

The API is synchronous and CPU-bound: callers on an event loop run it in a thread.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from sklearn.ensemble import IsolationForest

from domain.device_alarms import AlarmSummary, alarm_summary
from domain.devices import Device, Sample

WINDOW = 10
CONFIRM = 30
MIN_SAMPLES = 120
# The share of normal windows the forest calls outliers; `CONFIRM` in a row rules them out.
CONTAMINATION = 0.01
TREES = 100


def numeric(samples: Sequence[Sample]) -> bool:
    """Whether a curve holds numbers (a bool point, e.g. a coil, is not judged)."""
    return bool(samples) and not any(isinstance(s.value, bool) for s in samples)


def window_features(
    times: np.ndarray, values: np.ndarray, window: int, baseline: float
) -> np.ndarray:
    """One row per sliding window: distance of its mean from baseline, slope, spread about it."""
    v = sliding_window_view(values, window)
    t = sliding_window_view(times, window)
    mean = v.mean(axis=1)
    t_centred = t - t.mean(axis=1, keepdims=True)
    spread_of_times = (t_centred**2).sum(axis=1)
    # Samples stamped at one instant have no slope; leave it 0 rather than divide by zero.
    slope = np.divide(
        (t_centred * (v - mean[:, None])).sum(axis=1),
        spread_of_times,
        out=np.zeros_like(mean),
        where=spread_of_times > 0,
    )
    spread = np.sqrt(((v - baseline) ** 2).mean(axis=1))
    return np.column_stack([np.abs(mean - baseline), slope, spread])


def _arrays(samples: Sequence[Sample]) -> tuple[np.ndarray, np.ndarray]:
    """Seconds since the first sample and the values, in time order."""
    ordered = sorted(samples, key=lambda s: s.at)
    start = ordered[0].at
    times = np.array([(s.at - start).total_seconds() for s in ordered])
    return times, np.array([float(s.value) for s in ordered])


@dataclass(frozen=True)
class PointModel:
    """A point's forest and the baseline its features are measured from."""

    forest: IsolationForest
    baseline: float


class DeviceAnomalyDetector:
    """Isolation forests for a device's numeric points, trained on its normal samples."""

    def __init__(
        self,
        device: Device,
        *,
        window: int = WINDOW,
        confirm: int = CONFIRM,
        min_samples: int = MIN_SAMPLES,
        contamination: float = CONTAMINATION,
        random_state: int = 0,
    ) -> None:
        if window < 3 or confirm < 1 or min_samples < window + 2:
            raise ValueError("need window >= 3, confirm >= 1 and min_samples >= window + 2")
        self.device = device
        self.window = window
        self.confirm = confirm
        self.min_samples = min_samples
        self.contamination = contamination
        self.random_state = random_state
        self.models: dict[str, PointModel] = {}

    @property
    def trained(self) -> frozenset[str]:
        """The points the detector judges."""
        return frozenset(self.models)

    def fit(self, curves: Mapping[str, Sequence[Sample]]) -> frozenset[str]:
        """Train on normal curves, replacing any earlier training; returns the points trained.

        A point is left out when it has fewer than `min_samples` samples, is not numeric,
        or never varied (a forest learns nothing from one value).
        """
        self.models = {}
        for point, samples in sorted(curves.items()):
            if len(samples) < self.min_samples or not numeric(samples):
                continue
            times, values = _arrays(samples)
            if np.ptp(values) == 0:
                continue
            baseline = float(np.median(values))
            forest = IsolationForest(
                n_estimators=TREES,
                contamination=self.contamination,
                random_state=self.random_state,
            )
            forest.fit(window_features(times, values, self.window, baseline))
            self.models[point] = PointModel(forest=forest, baseline=baseline)
        return self.trained

    def score(self, point: str, samples: Sequence[Sample]) -> tuple[bool, float] | None:
        """Whether the last `confirm` windows are all outliers and the latest one's score.

        None when the point is not trained or the curve is too short to judge. The score is
        the forest's anomaly score (at most 1, higher is stranger).
        """
        model = self.models.get(point)
        needed = self.window + self.confirm - 1
        if model is None or len(samples) < needed or not numeric(samples):
            return None
        times, values = _arrays(samples)
        features = window_features(times[-needed:], values[-needed:], self.window, model.baseline)
        scores = model.forest.score_samples(features)
        # The forest's own cut: `predict` calls a window an outlier below `offset_`.
        return bool((scores < model.forest.offset_).all()), -float(scores[-1])

    def check(self, curves: Mapping[str, Sequence[Sample]]) -> list[AlarmSummary]:
        """An anomaly alarm for each trained point whose recent windows are all outliers."""
        alarms: list[AlarmSummary] = []
        for point in sorted(self.models):
            samples = curves.get(point, ())
            verdict = self.score(point, samples)
            if verdict is not None and verdict[0]:
                alarms.append(alarm_summary(self.device, "anomaly", point, samples, verdict[1]))
        return alarms
