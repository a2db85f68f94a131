"""Alarms at the edge: what an alarm says about a device, when one is raised, and deduplication.

The edge worker keeps each device's raw samples in memory; what leaves the plant is an alarm
summary: which device, which alarm, when, the values that triggered it and a few numbers
about the window around it, never the samples themselves. An alarm of the same kind on the
same device soon after another goes to the ticket the first one opened instead of a new one.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from domain.devices import NAME_PATTERN, Device, Sample

AlarmKind = Literal["threshold_high", "threshold_low", "anomaly"]
# A kind, a colon and a point name (the point's pattern without its leading anchor).
ALARM_TYPE_PATTERN = r"^(threshold_high|threshold_low|anomaly):" + NAME_PATTERN.removeprefix("^")


def alarm_type(kind: AlarmKind, point: str) -> str:
    """The alarm type of a kind on a point, e.g. `threshold_high:vibration`."""
    return f"{kind}:{point}"


class PointSummary(BaseModel):
    """A point's samples in the alarm's window, as a handful of numbers."""

    model_config = ConfigDict(extra="forbid")

    count: int = Field(ge=1)
    min: float
    max: float
    mean: float
    last: float
    slope_per_minute: float = Field(description="Least-squares slope over the window.")


class AlarmSummary(BaseModel):
    """One alarm of one device: what travels upstream instead of the samples behind it."""

    model_config = ConfigDict(extra="forbid")

    device_id: str
    site: str
    model: str
    type: str = Field(pattern=ALARM_TYPE_PATTERN, description="e.g. threshold_high:vibration")
    first_at: datetime = Field(description="The first sample of the window.")
    last_at: datetime = Field(description="The last sample of the window: when it fired.")
    trigger: dict[str, float] = Field(description="The value of each point that fired.")
    limit: float | None = Field(default=None, description="The threshold crossed, if any.")
    window: dict[str, PointSummary]
    score: float = Field(
        description="A threshold's overshoot relative to its limit's magnitude, or the anomaly "
        "detector's score (at most 1, higher is stranger)."
    )


def number(value: float | bool) -> float:
    """A sample's value as a number (a bool counts as 0 or 1)."""
    return float(value)


def recent(samples: Sequence[Sample], minutes: float) -> list[Sample]:
    """The samples no older than `minutes` before the last one, in time order."""
    ordered = sorted(samples, key=lambda s: s.at)
    if not ordered:
        return []
    start = ordered[-1].at - timedelta(minutes=minutes)
    return [s for s in ordered if s.at >= start]


def summarize(samples: Sequence[Sample]) -> PointSummary:
    """Min, max, mean, last value and slope per minute of a non-empty run of samples."""
    ordered = sorted(samples, key=lambda s: s.at)
    values = [number(s.value) for s in ordered]
    minutes = [(s.at - ordered[0].at).total_seconds() / 60 for s in ordered]
    # One instant has no slope; a regression over it would divide by zero.
    slope = statistics.linear_regression(minutes, values).slope if minutes[-1] > 0 else 0.0
    return PointSummary(
        count=len(values),
        min=min(values),
        max=max(values),
        mean=statistics.fmean(values),
        last=values[-1],
        slope_per_minute=slope,
    )


def alarm_summary(
    device: Device,
    kind: AlarmKind,
    point: str,
    samples: Sequence[Sample],
    score: float,
    limit: float | None = None,
) -> AlarmSummary:
    """The summary of an alarm on one point, over the device's window up to its last sample.

    `samples` must not be empty: an alarm is about at least one sample.
    """
    window = recent(samples, device.window_minutes)
    return AlarmSummary(
        device_id=device.id,
        site=device.site,
        model=device.model,
        type=alarm_type(kind, point),
        first_at=window[0].at,
        last_at=window[-1].at,
        trigger={point: number(window[-1].value)},
        limit=limit,
        window={point: summarize(window)},
        score=score,
    )


def _overshoot(value: float, limit: float) -> float:
    """How far past its limit a value is, relative to the limit's size (1 when the limit is 0)."""
    return abs(value - limit) / (abs(limit) or 1.0)


def threshold_alarms(device: Device, curves: Mapping[str, Sequence[Sample]]) -> list[AlarmSummary]:
    """An alarm for each point whose latest sample is above its high or below its low limit."""
    alarms: list[AlarmSummary] = []
    for point, threshold in sorted(device.thresholds.items()):
        samples = curves.get(point, ())
        if not samples:
            continue
        last = number(max(samples, key=lambda s: s.at).value)
        if threshold.high is not None and last > threshold.high:
            score = _overshoot(last, threshold.high)
            alarms.append(
                alarm_summary(device, "threshold_high", point, samples, score, threshold.high)
            )
        elif threshold.low is not None and last < threshold.low:
            score = _overshoot(last, threshold.low)
            alarms.append(
                alarm_summary(device, "threshold_low", point, samples, score, threshold.low)
            )
    return alarms


class OpenAlarm(BaseModel):
    """A ticket an alarm opened, and when an alarm of that kind last went to it."""

    model_config = ConfigDict(extra="forbid")

    ticket_key: str
    device_id: str
    type: str
    last_at: datetime


class AlarmDecision(BaseModel):
    """What to do with a new alarm: open a ticket, or signal the one already open for it."""

    model_config = ConfigDict(extra="forbid")

    action: Literal["open_ticket", "signal_open_ticket"]
    ticket_key: str | None = None


def _matching(
    open_alarms: Sequence[OpenAlarm], alarm: AlarmSummary, now: datetime, window: timedelta
) -> OpenAlarm | None:
    """The most recent open alarm of the same device and type within the window, if any."""
    same = [
        a
        for a in open_alarms
        if a.device_id == alarm.device_id and a.type == alarm.type and now - a.last_at <= window
    ]
    return max(same, key=lambda a: a.last_at, default=None)


def dedupe(
    open_alarms: Sequence[OpenAlarm], new_alarm: AlarmSummary, now: datetime, window: timedelta
) -> AlarmDecision:
    """Signal the ticket of the same device and alarm type raised within `window`, else open one.

    The window slides: it counts from the last alarm that went to the ticket, so an alarm that
    keeps firing stays on one ticket, and one that comes back after a quiet window opens anew.
    """
    match = _matching(open_alarms, new_alarm, now, window)
    if match is None:
        return AlarmDecision(action="open_ticket")
    return AlarmDecision(action="signal_open_ticket", ticket_key=match.ticket_key)


def remember(
    open_alarms: Sequence[OpenAlarm],
    alarm: AlarmSummary,
    ticket_key: str,
    now: datetime,
    window: timedelta,
) -> list[OpenAlarm]:
    """The open alarms once `alarm` went to `ticket_key` at `now`; those past the window go."""
    kept = [
        a
        for a in open_alarms
        if now - a.last_at <= window
        and not (a.device_id == alarm.device_id and a.type == alarm.type)
    ]
    entry = OpenAlarm(
        ticket_key=ticket_key, device_id=alarm.device_id, type=alarm.type, last_at=now
    )
    return [*kept, entry]
