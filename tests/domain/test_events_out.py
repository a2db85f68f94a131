"""CloudEvents of ticket events, subscription checks and Standard Webhooks signatures."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.events_out import (
    cloud_attributes,
    event_id,
    filter_problem,
    passes,
    secret_key,
    type_problems,
    wanted,
)
from domain.webhook_signatures import (
    ID_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    TOLERANCE_SECONDS,
    signature,
    signed_headers,
    verified,
)

KEY = bytes(range(32))
SECRET = "whsec_" + base64.b64encode(KEY).decode()
NOW = 1_800_000_000
AT = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)


def test_the_id_is_the_same_for_every_delivery_of_one_event() -> None:
    first = cloud_attributes("INC-1", {"seq": 3, "type": "created", "at": AT})
    again = cloud_attributes("INC-1", {"seq": 3, "type": "created", "at": AT, "data": {}})
    assert first["id"] == again["id"] == event_id("INC-1", 3)
    assert event_id("INC-1", 3) != event_id("INC-1", 4) != event_id("INC-2", 3)


@pytest.mark.parametrize(
    ("secret", "problem"),
    [
        ("plain-text-secret-of-enough-length", "starts with"),
        ("whsec_not base64!", "base64"),
        ("whsec_" + base64.b64encode(b"short").decode(), "not 5"),
        ("whsec_" + base64.b64encode(bytes(65)).decode(), "not 65"),
    ],
)
def test_secrets_that_are_no_standard_webhooks_secret_are_refused(
    secret: str, problem: str
) -> None:
    with pytest.raises(ValueError, match=problem):
        secret_key(secret)


def test_a_standard_webhooks_secret_gives_its_key() -> None:
    assert secret_key(SECRET) == KEY


@pytest.mark.parametrize(
    ("source", "ok"),
    [
        ('type == "ticketflow.ticket.created"', True),
        ('data.data.priority in ["high", "critical"]', True),
        ("type ==", False),
        ("a ? b", False),
        ("x" * 5000, False),
    ],
)
def test_filters_are_checked_like_gateway_conditions(source: str, ok: bool) -> None:
    assert (filter_problem(source) is None) is ok


DOCUMENT = {
    "type": "ticketflow.ticket.task_completed",
    "subject": "INC-1",
    "data": {"data": {"stage": "fix"}},
}


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (None, True),
        ('data.data.stage == "fix"', True),
        ('data.data.stage == "verify"', False),
        # Reading what the event does not carry (or was redacted away) does not pass.
        ('data.data.form.root_cause == "x"', False),
        # Not a boolean.
        ("subject", False),
    ],
)
def test_an_event_passes_the_filter_only_when_it_holds(source: str | None, expected: bool) -> None:
    assert passes(source, DOCUMENT) is expected


def test_event_types_are_checked_by_pointer() -> None:
    problems = type_problems(
        ["created", "nonsense", "task_opened"], frozenset({"created", "task_opened"})
    )
    assert [(p.pointer, p.detail) for p in problems] == [
        ("/event_types/1", "'nonsense' is not a ticket event type")
    ]
    assert wanted([], "created")
    assert wanted(["created"], "created")
    assert not wanted(["task_opened"], "created")


def test_a_signed_delivery_verifies() -> None:
    body = b'{"id":"INC-1-1"}'
    headers = signed_headers(KEY, "INC-1-1", NOW, body)
    assert headers[SIGNATURE_HEADER].startswith("v1,")
    assert verified(KEY, headers, body, NOW + 10)


def test_the_signature_is_the_standard_webhooks_one() -> None:
    # The Standard Webhooks specification's example: secret, id, timestamp, body and signature.
    key = base64.b64decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    body = b'{"test": 2432232314}'
    assert signature(key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body) == (
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    )


def _forgeries() -> list[tuple[str, bytes, dict[str, str], bytes]]:
    body = b'{"id":"INC-1-1"}'
    good = signed_headers(KEY, "INC-1-1", NOW, body)
    return [
        ("other key", KEY, signed_headers(bytes(32), "INC-1-1", NOW, body), body),
        ("tampered body", KEY, good, body.replace(b"1-1", b"1-2")),
        ("other id", KEY, {**good, ID_HEADER: "INC-1-2"}, body),
        ("moved timestamp", KEY, {**good, TIMESTAMP_HEADER: str(NOW + 1)}, body),
        (
            "replayed later",
            KEY,
            signed_headers(KEY, "INC-1-1", NOW - TOLERANCE_SECONDS - 1, body),
            body,
        ),
        ("no signature", KEY, {ID_HEADER: "INC-1-1", TIMESTAMP_HEADER: str(NOW)}, body),
        (
            "no timestamp",
            KEY,
            {ID_HEADER: "INC-1-1", SIGNATURE_HEADER: good[SIGNATURE_HEADER]},
            body,
        ),
        (
            "bad version",
            KEY,
            {**good, SIGNATURE_HEADER: good[SIGNATURE_HEADER].replace("v1,", "v2,")},
            body,
        ),
    ]


@pytest.mark.parametrize(
    ("case", "key", "headers", "body"), _forgeries(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_forged_signatures_do_not_verify(
    case: str, key: bytes, headers: dict[str, str], body: bytes
) -> None:
    assert not verified(key, headers, body, NOW), case


@given(
    st.binary(max_size=200), st.binary(min_size=24, max_size=64), st.text(min_size=1, max_size=40)
)
def test_every_signed_body_verifies_and_no_other_body_does(
    body: bytes, key: bytes, message_id: str
) -> None:
    headers = signed_headers(key, message_id, NOW, body)
    assert verified(key, headers, body, NOW)
    assert not verified(key, headers, body + b"x", NOW)


def test_one_of_several_signatures_may_match_a_rotated_secret() -> None:
    body = b"{}"
    old = signed_headers(bytes(32), "m", NOW, body)[SIGNATURE_HEADER]
    new = signed_headers(KEY, "m", NOW, body)
    assert verified(KEY, {**new, SIGNATURE_HEADER: f"{old} {new[SIGNATURE_HEADER]}"}, body, NOW)
