"""Subscription kinds: MQTT topic rules and each kind's request checks, as tables."""

from __future__ import annotations

import base64

import pytest

from domain.events_out import MAX_TOPIC, topic_problem
from services.subscriptions import SubscriptionRequest, subscription_problems

SECRET = "whsec_" + base64.b64encode(bytes(32)).decode()
ALLOWED = ["hooks.example.com"]


@pytest.mark.parametrize(
    ("topic", "problem"),
    [
        ("plant/tickets/events", None),
        ("a", None),
        ("tickets/événements", None),
        ("x" * MAX_TOPIC, None),
        ("x" * (MAX_TOPIC + 1), "at most"),
        ("é" * (MAX_TOPIC // 2 + 1), "at most"),  # bytes, not characters
        ("", "not empty"),
        ("plant/+/events", "wildcard"),
        ("plant/#", "wildcard"),
        ("#", "wildcard"),
        ("$SYS/broker/clients", "broker's"),
        ("plant/\x00", "control"),
        ("plant/\n", "control"),
        ("plant/\x85", "control"),
    ],
)
def test_topics(topic: str, problem: str | None) -> None:
    found = topic_problem(topic)
    if problem is None:
        assert found is None
    else:
        assert found is not None
        assert problem in found


@pytest.mark.parametrize(
    ("body", "broker", "pointers"),
    [
        ({"url": "https://hooks.example.com/t", "secret": SECRET}, False, set()),
        ({"kind": "webhook", "url": "https://hooks.example.com/t", "secret": SECRET}, True, set()),
        ({"secret": SECRET}, False, {"/url"}),
        ({"url": "https://hooks.example.com/t"}, False, {"/secret"}),
        (
            {"url": "https://hooks.example.com/t", "secret": SECRET, "topic": "t"},
            True,
            {"/topic"},
        ),
        ({"kind": "mqtt", "topic": "plant/events"}, True, set()),
        ({"kind": "mqtt", "topic": "plant/events"}, False, {"/kind"}),
        ({"kind": "mqtt"}, True, {"/topic"}),
        ({"kind": "mqtt", "topic": "plant/#"}, True, {"/topic"}),
        (
            {"kind": "mqtt", "topic": "t", "url": "https://hooks.example.com/t", "secret": SECRET},
            True,
            {"/url", "/secret"},
        ),
        ({"kind": "mqtt", "topic": "t", "event_types": ["exploded"]}, True, {"/event_types/0"}),
        ({"kind": "mqtt", "topic": "t", "filter": "type =="}, True, {"/filter"}),
    ],
)
def test_each_kind_checks_what_it_needs(
    body: dict[str, object], broker: bool, pointers: set[str]
) -> None:
    request = SubscriptionRequest.model_validate(body)
    assert {p.pointer for p in subscription_problems(request, ALLOWED, broker)} == pointers
