"""A clock woken late records what fell due in the order it fell due, as one woken on time."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from domain.sla_clocks import fire_due, next_due
from domain.ticket import TicketEvent
from tests.domain.tickets import NOW, new_ticket

HOUR = timedelta(hours=1)
LATE = NOW + 5 * HOUR


def fired(events: list[TicketEvent]) -> list[tuple[str, object, object]]:
    """Breaches and rungs as (type, clock, rung)."""
    return [
        (e.type, e.data["clock"], e.data.get("rung"))
        for e in events
        if e.type in ("sla_breached", "sla_rung_fired")
    ]


def on_time(until: datetime) -> list[TicketEvent]:
    """Every firing of a fresh ticket, each at the instant it falls due, up to `until`."""
    state = new_ticket()
    events: list[TicketEvent] = []
    while (due := next_due(state)) is not None and due <= until:
        events += fire_due(state, due).events
    return events


# The fixture's ticket clock: a rung after 1 h, the 4 h target, a rung at the target; its
# stage clock: the 2 h target and a rung at it.
@pytest.mark.parametrize(
    ("in_due_order", "expected"),
    [
        (
            True,
            [
                ("sla_rung_fired", "ticket", 0),
                ("sla_breached", "stage:work", None),
                ("sla_rung_fired", "stage:work", 0),
                ("sla_breached", "ticket", None),
                ("sla_rung_fired", "ticket", 1),
            ],
        ),
        (
            False,
            [
                ("sla_breached", "ticket", None),
                ("sla_rung_fired", "ticket", 0),
                ("sla_rung_fired", "ticket", 1),
                ("sla_breached", "stage:work", None),
                ("sla_rung_fired", "stage:work", 0),
            ],
        ),
    ],
)
def test_a_late_wake_fires_in_due_order_or_as_recorded_runs_did(
    in_due_order: bool, expected: list[tuple[str, object, object]]
) -> None:
    state = new_ticket()
    assert fired(fire_due(state, LATE, in_due_order=in_due_order).events) == expected


def test_a_late_wake_records_what_wakes_on_time_record() -> None:
    late = fire_due(new_ticket(), LATE).events
    assert fired(late) == fired(on_time(LATE))
    assert [e.seq for e in late] == sorted(e.seq for e in late)
