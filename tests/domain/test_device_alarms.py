"""Alarm summaries, threshold checks and the deduplication rule (table tests on the pure domain)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from domain.device_alarms import (
    AlarmSummary,
    OpenAlarm,
    PointSummary,
    alarm_summary,
    dedupe,
    recent,
    remember,
    summarize,
    threshold_alarms,
)
from domain.devices import Device, ModbusPoint, Sample, Threshold

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
WINDOW = timedelta(minutes=30)


def pump(thresholds: dict[str, Threshold] | None = None, window_minutes: int = 5) -> Device:
    """A Modbus pump with vibration and temperature."""
    return Device(
        id="pump-1",
        site="plant-a",
        model="KSB Etanorm",
        protocol="modbus-tcp",
        endpoint="127.0.0.1:5020",
        unit_id=1,
        points=[
            ModbusPoint(name="vibration", register="holding", address=0, type="float32"),
            ModbusPoint(name="temperature", register="holding", address=2, type="int16"),
        ],
        window_minutes=window_minutes,
        thresholds=thresholds or {},
    )


def curve(*values: float, step: timedelta = timedelta(seconds=1)) -> list[Sample]:
    """Samples one `step` apart from T0."""
    return [Sample(at=T0 + i * step, value=v) for i, v in enumerate(values)]


@pytest.mark.parametrize(
    ("threshold", "values", "expected"),
    [
        (Threshold(high=8.0), (7.0, 8.5), [("threshold_high:vibration", 8.5, 8.0, 0.0625)]),
        (Threshold(high=8.0), (9.0, 8.0), []),
        (Threshold(high=8.0), (9.0, 7.9), []),
        (Threshold(low=1.0), (2.0, 0.5), [("threshold_low:vibration", 0.5, 1.0, 0.5)]),
        (Threshold(low=1.0), (2.0, 1.0), []),
        (Threshold(high=8.0, low=1.0), (4.0, 5.0), []),
        (Threshold(high=8.0, low=1.0), (4.0, 0.0), [("threshold_low:vibration", 0.0, 1.0, 1.0)]),
        (Threshold(high=0.0), (0.0, 0.5), [("threshold_high:vibration", 0.5, 0.0, 0.5)]),
        (Threshold(), (100.0, 100.0), []),
    ],
)
def test_threshold_alarms_judge_the_latest_sample(
    threshold: Threshold,
    values: tuple[float, ...],
    expected: list[tuple[str, float, float, float]],
) -> None:
    alarms = threshold_alarms(pump({"vibration": threshold}), {"vibration": curve(*values)})
    got = [(a.type, a.trigger["vibration"], a.limit, a.score) for a in alarms]
    assert got == expected


def test_thresholds_of_points_without_samples_raise_nothing() -> None:
    device = pump({"vibration": Threshold(high=8.0), "temperature": Threshold(high=80.0)})
    alarms = threshold_alarms(device, {"vibration": curve(9.0), "temperature": []})
    assert [a.type for a in alarms] == ["threshold_high:vibration"]


def test_a_threshold_alarm_carries_the_device_and_its_window() -> None:
    samples = curve(2.0, 5.0, 9.0)
    (alarm,) = threshold_alarms(pump({"vibration": Threshold(high=8.0)}), {"vibration": samples})
    assert (alarm.device_id, alarm.site, alarm.model) == ("pump-1", "plant-a", "KSB Etanorm")
    assert (alarm.first_at, alarm.last_at) == (T0, T0 + timedelta(seconds=2))
    assert alarm.window["vibration"].model_dump() == pytest.approx(
        PointSummary(
            count=3, min=2.0, max=9.0, mean=16 / 3, last=9.0, slope_per_minute=210.0
        ).model_dump()
    )


@pytest.mark.parametrize(
    ("values", "step", "expected"),
    [
        ((2.0,), timedelta(seconds=1), (1, 2.0, 2.0, 2.0, 2.0, 0.0)),
        ((2.0, 2.1, 2.2, 2.3), timedelta(minutes=1), (4, 2.0, 2.3, 2.15, 2.3, 0.1)),
        ((5.0, 4.0, 3.0), timedelta(seconds=30), (3, 3.0, 5.0, 4.0, 3.0, -2.0)),
        ((1.0, 1.0, 1.0), timedelta(seconds=1), (3, 1.0, 1.0, 1.0, 1.0, 0.0)),
    ],
)
def test_summaries_are_min_max_mean_last_and_slope_per_minute(
    values: tuple[float, ...], step: timedelta, expected: tuple[float, ...]
) -> None:
    s = summarize(curve(*values, step=step))
    got = (s.count, s.min, s.max, s.mean, s.last, s.slope_per_minute)
    assert got == pytest.approx(expected)


def test_samples_out_of_order_are_summarised_in_time_order() -> None:
    assert summarize(list(reversed(curve(1.0, 2.0, 3.0)))).last == 3.0


def test_a_bool_point_summarises_as_zero_and_one() -> None:
    summary = summarize([Sample(at=T0, value=True), Sample(at=T0 + WINDOW, value=False)])
    assert (summary.min, summary.max, summary.last) == (0.0, 1.0, 0.0)


def test_the_window_keeps_only_the_device_window_before_the_last_sample() -> None:
    samples = curve(*[float(i) for i in range(11)], step=timedelta(minutes=1))
    assert [s.value for s in recent(samples, 5)] == [5.0, 6.0, 7.0, 8.0, 9.0, 10.0]
    alarm = alarm_summary(pump(window_minutes=5), "anomaly", "vibration", samples, 0.7)
    assert alarm.first_at == T0 + timedelta(minutes=5)
    assert alarm.window["vibration"].count == 6


def test_a_summary_carries_no_sample_series() -> None:
    # Every sample has a distinct time and value: only the first, the last and the numbers
    # derived from them may appear in what travels.
    samples = [Sample(at=T0 + timedelta(seconds=i), value=2.0 + i / 1000) for i in range(300)]
    alarm = alarm_summary(pump(), "anomaly", "vibration", samples, 0.7)
    text = alarm.model_dump_json()
    stamps = [s.at.isoformat().replace("+00:00", "Z") for s in samples]
    assert stamps[0] in text
    assert stamps[-1] in text
    assert not [stamp for stamp in stamps[1:-1] if stamp in text]
    assert "[" not in text, "no field of a summary is a list"
    assert len(json.loads(text)["window"]) == 1


def test_summary_fields_are_closed_and_the_type_is_checked() -> None:
    alarm = alarm_summary(pump(), "anomaly", "vibration", curve(2.0), 0.7)
    with pytest.raises(ValueError, match="Extra inputs"):
        AlarmSummary.model_validate({**alarm.model_dump(), "samples": [1, 2]})
    with pytest.raises(ValueError, match="String should match pattern"):
        AlarmSummary.model_validate({**alarm.model_dump(), "type": "flood:vibration"})


def alarm(device_id: str = "pump-1", type_: str = "threshold_high:vibration") -> AlarmSummary:
    """A new alarm raised at T0."""
    base = alarm_summary(pump(), "anomaly", "vibration", curve(9.0), 0.5)
    return base.model_copy(update={"device_id": device_id, "type": type_})


def opened(key: str, ago: timedelta, device_id: str = "pump-1", type_: str = "") -> OpenAlarm:
    """A ticket an alarm opened, last alarmed `ago` before T0."""
    return OpenAlarm(
        ticket_key=key,
        device_id=device_id,
        type=type_ or "threshold_high:vibration",
        last_at=T0 - ago,
    )


@pytest.mark.parametrize(
    ("open_alarms", "new", "expected"),
    [
        ([], alarm(), ("open_ticket", None)),
        ([opened("MNT-1", timedelta(minutes=5))], alarm(), ("signal_open_ticket", "MNT-1")),
        ([opened("MNT-1", WINDOW)], alarm(), ("signal_open_ticket", "MNT-1")),
        ([opened("MNT-1", WINDOW + timedelta(seconds=1))], alarm(), ("open_ticket", None)),
        ([opened("MNT-1", timedelta(minutes=5))], alarm(device_id="pump-2"), ("open_ticket", None)),
        (
            [opened("MNT-1", timedelta(minutes=5))],
            alarm(type_="anomaly:vibration"),
            ("open_ticket", None),
        ),
        (
            [opened("MNT-1", timedelta(minutes=5))],
            alarm(type_="threshold_high:temperature"),
            ("open_ticket", None),
        ),
        (
            [
                opened("MNT-1", timedelta(minutes=20)),
                opened("MNT-2", timedelta(minutes=2)),
                opened("MNT-3", timedelta(minutes=1), type_="anomaly:vibration"),
            ],
            alarm(),
            ("signal_open_ticket", "MNT-2"),
        ),
    ],
    ids=[
        "nothing open",
        "same device and type within the window",
        "at the window's edge",
        "just past the window",
        "another device",
        "another kind on the same point",
        "the same kind on another point",
        "the most recent of several",
    ],
)
def test_dedupe_signals_the_same_alarm_within_the_window_and_opens_anything_else(
    open_alarms: list[OpenAlarm], new: AlarmSummary, expected: tuple[str, str | None]
) -> None:
    decision = dedupe(open_alarms, new, T0, WINDOW)
    assert (decision.action, decision.ticket_key) == expected


def test_an_alarm_that_keeps_firing_stays_on_its_ticket() -> None:
    # The window counts from the last alarm the ticket received, not from when it opened.
    state = remember([], alarm(), "MNT-1", T0, WINDOW)
    for minutes in (20, 40, 60):
        now = T0 + timedelta(minutes=minutes)
        decision = dedupe(state, alarm(), now, WINDOW)
        assert (decision.action, decision.ticket_key) == ("signal_open_ticket", "MNT-1")
        state = remember(state, alarm(), "MNT-1", now, WINDOW)
    assert state == [
        OpenAlarm(
            ticket_key="MNT-1",
            device_id="pump-1",
            type="threshold_high:vibration",
            last_at=T0 + timedelta(minutes=60),
        )
    ]
    later = T0 + timedelta(minutes=91)
    assert dedupe(state, alarm(), later, WINDOW).action == "open_ticket"


def test_remember_keeps_other_alarms_and_drops_those_past_the_window() -> None:
    state = [
        opened("MNT-1", timedelta(minutes=5), type_="anomaly:vibration"),
        opened("MNT-2", timedelta(minutes=45), device_id="pump-2"),
        opened("MNT-3", timedelta(minutes=10)),
    ]
    after = remember(state, alarm(), "MNT-4", T0, WINDOW)
    assert [(a.ticket_key, a.last_at) for a in after] == [
        ("MNT-1", state[0].last_at),
        ("MNT-4", T0),
    ]
