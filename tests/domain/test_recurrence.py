"""The recurrence fingerprint, the ticket's category and the watch's window, as tables."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.recurrence import (
    RECURRENCE_WINDOW,
    RecordRecurrenceInput,
    RecurrenceWatchInput,
    eradicated_record,
    fingerprint_of,
    normalise_symptom,
    recurrence_event,
    recurs_within,
    started_record,
    ticket_category,
    window_end,
)

SAME_SYMPTOM = [
    # case, punctuation, stop words, plurals and -ed/-ing endings, word order
    ("Printer jams", "the printer is jamming!"),
    ("Printer jams", "PRINTER JAMMED"),
    ("VPN connection fails", "vpn connections failing again"),
    ("Disk full on server", "server disk is full"),
    ("Pump stopped", "pump stops"),
    ("Crashes on startup", "crashed on startup"),
    # full-width letters and digits are their ASCII selves
    ("\uff25\uff52\uff52\uff4f\uff52\u3000\uff14\uff12", "error 42"),
    # Chinese: particles and adverbs of repetition go, spaces and order do not matter
    ("打印机又卡纸了", "打印机卡纸"),
    ("打印机 卡纸", "卡纸打印机"),
    ("服务器的磁盘满了\uff01", "服务器磁盘满"),
    # mixed scripts
    ("VPN 连接失败", "vpn连接失败了"),
]

OTHER_SYMPTOM = [
    ("Printer jams", "Printer offline"),
    ("printing", "not printing"),  # a negation is part of the symptom
    ("打印机卡纸", "打印机不卡纸"),
    ("error 42", "error 43"),
    ("打印机卡纸", "复印机卡纸"),
]


@pytest.mark.parametrize(("one", "other"), SAME_SYMPTOM)
def test_two_tellings_of_one_symptom_normalise_alike(one: str, other: str) -> None:
    assert normalise_symptom(one) == normalise_symptom(other)
    assert normalise_symptom(one) != ()


@pytest.mark.parametrize(("one", "other"), OTHER_SYMPTOM)
def test_different_symptoms_stay_apart(one: str, other: str) -> None:
    assert normalise_symptom(one) != normalise_symptom(other)


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("The printer jams", ("jam", "printer")),
        ("Pumps stopped running", ("pump", "run", "stop")),
        ("Batteries", ("battery",)),
        ("Boxes crashes glass", ("box", "crash", "glass")),
        ("打印机又卡纸了", ("卡", "印", "打", "机", "纸")),  # by code point
        ("", ()),
        ("the is a !!", ()),
        ("了吗呢", ()),
    ],
)
def test_tokens(text: str, tokens: tuple[str, ...]) -> None:
    assert normalise_symptom(text) == tokens


@given(st.text(max_size=200))
def test_normalising_is_idempotent_on_its_own_tokens(text: str) -> None:
    tokens = normalise_symptom(text)
    assert tokens == tuple(sorted(set(tokens)))
    # Tokens already normalised come back unchanged when told again, in any order.
    assert normalise_symptom(" ".join(reversed(tokens))) == normalise_symptom(" ".join(tokens))


@pytest.mark.parametrize(
    ("one", "other", "same"),
    [
        # the same symptom on the same asset, whichever field names it
        (
            {"title": "Pump stopped", "asset_id": "P-7"},
            {"title": "pump stops", "asset": "p-7"},
            True,
        ),
        (
            {"title": "Pump stopped", "device_id": "P-7"},
            {"summary": "pump stopped", "device_id": "P-7"},
            True,
        ),
        # a form's own symptom field is read before the title
        (
            {"symptom": "no power", "title": "Call me"},
            {"symptom": "No power!", "title": "urgent"},
            True,
        ),
        # another asset, or none, is another problem
        (
            {"title": "Pump stopped", "asset_id": "P-7"},
            {"title": "Pump stopped", "asset_id": "P-8"},
            False,
        ),
        ({"title": "Pump stopped", "asset_id": "P-7"}, {"title": "Pump stopped"}, False),
        # the description is not the symptom: two reports of one fault word it differently
        (
            {"title": "Pump stopped", "description": "at 9 am"},
            {"title": "Pump stopped", "description": "after lunch"},
            True,
        ),
        # an object is not an asset name: its nested fields have sensitivities of their own
        ({"title": "x y", "asset": {"id": "A"}}, {"title": "x y", "asset": {"id": "B"}}, True),
    ],
)
def test_fingerprint_of_intakes(one: dict[str, Any], other: dict[str, Any], same: bool) -> None:
    a, b = fingerprint_of(one, "it-incident"), fingerprint_of(other, "it-incident")
    assert a is not None
    assert b is not None
    assert (a.digest == b.digest) is same


def test_the_category_is_part_of_the_fingerprint() -> None:
    intake = {"title": "Pump stopped", "asset_id": "P-7"}
    one, other = fingerprint_of(intake, "maintenance"), fingerprint_of(intake, "facilities")
    assert one is not None
    assert other is not None
    assert one.digest != other.digest
    same = fingerprint_of(intake, " Maintenance ")
    assert same is not None
    assert same.digest == one.digest


@pytest.mark.parametrize("intake", [{}, {"title": ""}, {"title": "the!"}, {"title": 42}])
def test_no_fingerprint_without_a_symptom(intake: dict[str, Any]) -> None:
    assert fingerprint_of(intake, "it-incident") is None


@pytest.mark.parametrize(
    ("decided", "definition", "category"),
    [(None, "it-incident", "it-incident"), ("network", "it-incident", "network"), ("", "x", "x")],
)
def test_ticket_category(decided: str | None, definition: str, category: str) -> None:
    assert ticket_category(decided, definition) == category


def test_watch_events() -> None:
    closed = datetime(2026, 12, 1, tzinfo=UTC)
    base: dict[str, Any] = {
        "ticket_key": "A-1",
        "at": closed,
        "closed_at": closed,
        "ends_at": closed + timedelta(days=30),
    }
    started = RecordRecurrenceInput(step="started", **base)
    recurred = RecordRecurrenceInput(step="recurred", by="A-2", **base)
    eradicated = RecordRecurrenceInput(step="eradicated", **base)
    assert recurrence_event(started) == (
        "recurrence_watch_started",
        {"until": "2026-12-31T00:00:00+00:00"},
    )
    assert recurrence_event(recurred) == (
        "recurred",
        {"by": "A-2", "closed_at": "2026-12-01T00:00:00+00:00"},
    )
    assert recurrence_event(eradicated) == (
        "eradicated",
        {"closed_at": "2026-12-01T00:00:00+00:00", "days": 30},
    )


CLOSED = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
ENDS = CLOSED + timedelta(days=30)


@pytest.mark.parametrize(
    ("filed_at", "counts"),
    [
        (CLOSED - timedelta(seconds=1), False),  # filed before the close: not a recurrence
        (CLOSED, True),
        (CLOSED + timedelta(days=12), True),
        (ENDS - timedelta(microseconds=1), True),
        (ENDS, False),  # the window is half-open: its end is already after it
        (ENDS + timedelta(hours=1), False),  # after the end, even before the sweep came by
    ],
)
def test_a_recurrence_counts_only_within_the_window(filed_at: datetime, counts: bool) -> None:
    assert window_end(CLOSED) == ENDS
    assert timedelta(days=30) == RECURRENCE_WINDOW
    assert recurs_within(CLOSED, ENDS, filed_at) is counts


def test_the_steps_without_a_watch_workflow() -> None:
    watch = RecurrenceWatchInput(ticket_key="A-1", closed_at=CLOSED, fingerprint="f" * 64)
    started = started_record(watch)
    # The start is the close's instant; eradicated is stamped with the window's end, however
    # late the sweep runs.
    assert (started.step, started.at, started.ends_at, started.fingerprint) == (
        "started",
        CLOSED,
        ENDS,
        "f" * 64,
    )
    eradicated = eradicated_record("A-1", CLOSED, ENDS)
    assert (eradicated.step, eradicated.at, eradicated.by) == ("eradicated", ENDS, None)
    assert recurrence_event(eradicated) == (
        "eradicated",
        {"closed_at": CLOSED.isoformat(), "days": 30},
    )
