"""Business-calendar arithmetic: examples on a Shanghai calendar, and properties (hypothesis)."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.calendars import (
    ALWAYS_CALENDAR,
    BusinessCalendar,
    add_business,
    business_between,
    calendar_problems,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")
WEEK = {d: ["09:00-12:00", "13:00-18:00"] for d in ("mon", "tue", "wed", "thu", "fri")}
CN = BusinessCalendar(
    key="cn-test",
    version=1,
    timezone="Asia/Shanghai",
    hours=WEEK,
    holidays=[date(2026, 10, 1), date(2026, 10, 2), date(2026, 10, 5)],
    makeup_days=[date(2026, 10, 10)],  # a Saturday worked instead
)
# Berlin has DST jumps, so spans of different days differ in UTC length.
DE = BusinessCalendar(key="de-test", version=1, timezone="Europe/Berlin", hours=WEEK)


def local(tz: ZoneInfo, *parts: int) -> datetime:
    """An aware instant from local wall-clock parts."""
    return datetime(*parts, tzinfo=tz)  # type: ignore[arg-type,misc]


def test_a_friday_evening_start_counts_from_monday_morning() -> None:
    friday = local(SHANGHAI, 2026, 11, 20, 17, 30)
    deadline = add_business(CN, friday, timedelta(hours=8))
    # 30 min on Friday, then 7.5 h from Monday 09:00 with the lunch hour skipped.
    assert deadline == local(SHANGHAI, 2026, 11, 23, 17, 30)
    assert business_between(CN, friday, deadline) == timedelta(hours=8)


def test_holidays_are_skipped_and_makeup_days_worked() -> None:
    before = local(SHANGHAI, 2026, 9, 30, 17, 0)
    # Oct 1, 2 holidays, 3-4 weekend, 5 holiday; Oct 6 is the next working day.
    assert add_business(CN, before, timedelta(hours=2)) == local(SHANGHAI, 2026, 10, 6, 10, 0)
    friday = local(SHANGHAI, 2026, 10, 9, 18, 0)
    assert add_business(CN, friday, timedelta(hours=1)) == local(SHANGHAI, 2026, 10, 10, 10, 0)


def test_the_end_of_a_span_is_the_deadline_not_the_next_morning() -> None:
    start = local(SHANGHAI, 2026, 11, 24, 17, 0)
    assert add_business(CN, start, timedelta(hours=1)) == local(SHANGHAI, 2026, 11, 24, 18, 0)


def test_around_the_clock_is_plain_time() -> None:
    start = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)
    assert add_business(ALWAYS_CALENDAR, start, timedelta(hours=5)) == start + timedelta(hours=5)


def test_a_dst_night_has_no_effect_on_office_hours() -> None:
    saturday = local(BERLIN, 2026, 3, 28, 12, 0)  # clocks go forward on Sunday 29 March
    assert add_business(DE, saturday, timedelta(hours=1)) == local(BERLIN, 2026, 3, 30, 10, 0)


def test_every_problem_is_listed_with_its_pointer() -> None:
    bad = BusinessCalendar(
        key="bad",
        timezone="Mars/Olympus",
        hours={"mon": ["09:00-12:00", "11:00-13:00", "25:00-26:00", "14:00-13:00"]},
        holidays=[date(2026, 1, 1)],
        makeup_days=[date(2026, 1, 1)],
    )
    found = {(p.pointer, p.detail.split(" ")[0]) for p in calendar_problems(bad)}
    assert {pointer for pointer, _ in found} == {
        "/timezone",
        "/hours/mon/1",
        "/hours/mon/2",
        "/hours/mon/3",
        "/makeup_days/0",
    }


def test_a_calendar_without_weekly_hours_is_refused() -> None:
    problems = calendar_problems(BusinessCalendar(key="never", hours={"sat": []}))
    assert [p.pointer for p in problems] == ["/hours"]


instants = st.datetimes(
    min_value=datetime(2025, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
)
durations = st.timedeltas(min_value=timedelta(0), max_value=timedelta(hours=200))
calendars = st.sampled_from([CN, DE, ALWAYS_CALENDAR])


@settings(max_examples=300, deadline=None)
@given(calendar=calendars, start=instants, duration=durations)
def test_adding_then_measuring_gives_the_duration_back(
    calendar: BusinessCalendar, start: datetime, duration: timedelta
) -> None:
    end = add_business(calendar, start, duration)
    assert end >= start
    assert business_between(calendar, start, end) == duration


@settings(max_examples=300, deadline=None)
@given(calendar=calendars, a=instants, b=instants, c=instants)
def test_business_time_is_additive_and_never_more_than_wall_time(
    calendar: BusinessCalendar, a: datetime, b: datetime, c: datetime
) -> None:
    a, b, c = sorted((a, b, c))
    ab, bc = business_between(calendar, a, b), business_between(calendar, b, c)
    assert ab + bc == business_between(calendar, a, c)
    assert ab <= b - a


@settings(max_examples=200, deadline=None)
@given(calendar=calendars, start=instants, d1=durations, d2=durations)
def test_adding_is_monotonic_and_composes(
    calendar: BusinessCalendar, start: datetime, d1: timedelta, d2: timedelta
) -> None:
    small, large = sorted((d1, d2))
    assert add_business(calendar, start, small) <= add_business(calendar, start, large)
    stepwise = add_business(calendar, add_business(calendar, start, d1), d2)
    assert business_between(calendar, start, stepwise) == d1 + d2


PROBE = """
from datetime import datetime, timedelta, timezone
from tests.domain.test_calendars import CN, DE
from domain.calendars import add_business, business_between
start = datetime(2026, 3, 27, 16, 45, tzinfo=timezone.utc)
for cal in (CN, DE):
    end = add_business(cal, start, timedelta(hours=13, minutes=7))
    print(end.isoformat(), business_between(cal, start, end + timedelta(days=3)))
"""


def test_results_do_not_depend_on_the_process_time_zone() -> None:
    outputs = set()
    for tz in ("UTC", "Asia/Shanghai", "America/Los_Angeles", "Pacific/Chatham"):
        env = {**os.environ, "TZ": tz}
        run = subprocess.run(
            [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True
        )
        outputs.add(run.stdout)
    assert len(outputs) == 1
    assert outputs.pop().count("\n") == 2
