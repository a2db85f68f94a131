"""Business calendars as data, and business-time arithmetic on them (pure, deterministic).

A calendar names a time zone, working hours per weekday, holidays and make-up working days
(the Chinese calendar moves weekends). Instants are always timezone-aware; nothing here reads
the process's local time zone or the wall clock, so results are the same in every process and
inside the Temporal workflow sandbox.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from itertools import pairwise
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field

from domain.problems import Problem, pointer

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ALWAYS = "24x7"
INTERVAL = re.compile(r"^(\d{2}):(\d{2})-(\d{2}):(\d{2})$")
MINUTES_PER_DAY = 24 * 60

Span = tuple[datetime, datetime]


class BusinessCalendar(BaseModel):
    """Working time: hours per weekday ("09:00-12:00"), holidays, make-up working days."""

    model_config = ConfigDict(extra="forbid")

    key: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")
    version: int = Field(default=0, ge=0, description="Assigned on publish; 0 in a draft.")
    title: str = Field(default="", max_length=200)
    timezone: str = Field(default="UTC", max_length=64)
    hours: dict[Weekday, list[str]] = Field(default_factory=dict)
    holidays: list[date] = Field(default_factory=list, max_length=2000)
    makeup_days: list[date] = Field(
        default_factory=list,
        max_length=2000,
        description="Dates that are working days whatever their weekday.",
    )
    makeup_hours: list[str] | None = Field(
        default=None, description="Hours of a make-up day; default: Monday's hours."
    )

    @property
    def ref(self) -> str:
        """`key@version`, the form definitions refer to a published calendar by."""
        return self.key if self.key == ALWAYS else f"{self.key}@{self.version}"


ALWAYS_CALENDAR = BusinessCalendar(
    key=ALWAYS,
    title="Around the clock",
    hours={d: ["00:00-24:00"] for d in WEEKDAYS},
)


def _parse_interval(text: str) -> tuple[int, int] | None:
    """Minutes since midnight of a "HH:MM-HH:MM" interval, or None when malformed."""
    match = INTERVAL.match(text)
    if match is None:
        return None
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if m1 > 59 or m2 > 59 or start >= MINUTES_PER_DAY or end > MINUTES_PER_DAY:
        return None
    return start, end


def _interval_problems(intervals: list[str], at: tuple[str | int, ...]) -> list[Problem]:
    problems: list[Problem] = []
    parsed: list[tuple[int, int, int]] = []
    for i, text in enumerate(intervals):
        span = _parse_interval(text)
        if span is None:
            problems.append(
                Problem(
                    pointer=pointer(*at, i), detail=f"{text!r} is not HH:MM-HH:MM (00:00-24:00)"
                )
            )
        elif span[0] >= span[1]:
            problems.append(
                Problem(pointer=pointer(*at, i), detail=f"{text!r} ends before it starts")
            )
        else:
            parsed.append((span[0], span[1], i))
    parsed.sort()
    for (_s1, e1, i1), (s2, _e2, i2) in pairwise(parsed):
        if s2 < e1:
            problems.append(
                Problem(
                    pointer=pointer(*at, i2),
                    detail=f"{intervals[i2]!r} overlaps {intervals[i1]!r}",
                )
            )
    return problems


def calendar_problems(calendar: BusinessCalendar) -> list[Problem]:
    """Every problem of a calendar: time zone, hour intervals, overlaps, conflicting dates."""
    problems: list[Problem] = []
    try:
        zone(calendar.timezone)
    except ValueError:
        problems.append(
            Problem(pointer="/timezone", detail=f"unknown time zone {calendar.timezone!r}")
        )
    for weekday, intervals in calendar.hours.items():
        problems += _interval_problems(intervals, ("hours", weekday))
    if calendar.makeup_hours is not None:
        problems += _interval_problems(calendar.makeup_hours, ("makeup_hours",))
    if not any(_parse_interval(t) for ivs in calendar.hours.values() for t in ivs):
        # Without a weekly working interval a long enough duration would never end.
        problems.append(Problem(pointer="/hours", detail="no working hours on any weekday"))
    holidays = set(calendar.holidays)
    for i, day in enumerate(calendar.makeup_days):
        if day in holidays:
            problems.append(
                Problem(
                    pointer=pointer("makeup_days", i),
                    detail=f"{day} is also listed as a holiday",
                )
            )
    return problems


@lru_cache(maxsize=256)
def zone(name: str) -> ZoneInfo:
    """The IANA time zone of this name; ValueError when there is none."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}") from exc


def _require_aware(*instants: datetime) -> None:
    for instant in instants:
        if instant.tzinfo is None or instant.utcoffset() is None:
            raise ValueError(f"{instant!r} has no time zone; business time needs aware instants")


def _is_always(calendar: BusinessCalendar) -> bool:
    return calendar.key == ALWAYS


def _day_minutes(calendar: BusinessCalendar, day: date) -> list[tuple[int, int]]:
    if day in calendar.holidays:
        return []
    if day in calendar.makeup_days:
        texts = (
            calendar.makeup_hours
            if calendar.makeup_hours is not None
            else calendar.hours.get("mon", [])
        )
    else:
        texts = calendar.hours.get(WEEKDAYS[day.weekday()], [])
    spans = [s for s in (_parse_interval(t) for t in texts) if s is not None and s[0] < s[1]]
    return sorted(spans)


def day_spans(calendar: BusinessCalendar, day: date) -> list[Span]:
    """The working spans of one local date, as UTC instants."""
    tz = zone(calendar.timezone)
    spans: list[Span] = []
    for start, end in _day_minutes(calendar, day):
        begin = datetime.combine(day, time(start // 60, start % 60), tz).astimezone(UTC)
        finish = (
            datetime.combine(day + timedelta(days=1), time(0, 0), tz)
            if end == MINUTES_PER_DAY
            else datetime.combine(day, time(end // 60, end % 60), tz)
        ).astimezone(UTC)
        if begin < finish:  # a span swallowed by a DST jump has no working time
            spans.append((begin, finish))
    return spans


def business_between(calendar: BusinessCalendar, start: datetime, end: datetime) -> timedelta:
    """Working time between two instants (zero when end is not after start)."""
    _require_aware(start, end)
    if end <= start:
        return timedelta(0)
    if _is_always(calendar):
        return end - start
    tz = zone(calendar.timezone)
    day = start.astimezone(tz).date() - timedelta(days=1)
    last = end.astimezone(tz).date() + timedelta(days=1)
    total = timedelta(0)
    while day <= last:
        for begin, finish in day_spans(calendar, day):
            low, high = max(begin, start), min(finish, end)
            if low < high:
                total += high - low
        day += timedelta(days=1)
    return total


def add_business(calendar: BusinessCalendar, start: datetime, duration: timedelta) -> datetime:
    """The instant at which `duration` of working time has passed since `start`."""
    _require_aware(start)
    if duration <= timedelta(0):
        return start
    if _is_always(calendar):
        return start + duration
    tz = zone(calendar.timezone)
    day = start.astimezone(tz).date() - timedelta(days=1)
    left = duration
    # Validation guarantees a working interval every week; holidays are finite, so this ends.
    while True:
        for begin, finish in day_spans(calendar, day):
            low = max(begin, start)
            if low >= finish:
                continue
            if left <= finish - low:
                return low + left
            left -= finish - low
        day += timedelta(days=1)
