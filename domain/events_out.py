"""Events out: ticket events as CloudEvents 1.0, subscriptions to them, and their delivery.

A ticket event becomes one CloudEvent in structured JSON mode (built by the `cloudevents` SDK
in activities/, from the attributes here): `type` is
`ticketflow.ticket.<event type>`, `subject` the ticket key and `id` the ticket key and the
event's sequence number, which the workflow assigns deterministically, so every retry and
every redelivery of the same event carries the same id (receivers deduplicate on it).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from datetime import timedelta
from typing import Any, Literal

from pydantic import BaseModel, Field

from domain.expression_syntax import ExpressionError, compile_expression, parse
from domain.expressions import holds
from domain.problems import Problem

EVENT_SOURCE = "urn:ticketflow:tickets"
TYPE_PREFIX = "ticketflow.ticket."
CONTENT_TYPE = "application/cloudevents+json"

SUBSCRIPTION_WORKFLOW = "SubscriptionWorkflow"
NEXT_BATCH_ACTIVITY = "next_outbox_batch"
DELIVER_ACTIVITY = "deliver_event"
PAUSE_ACTIVITY = "pause_subscription"
RESUME_SIGNAL = "resume"

# Standard Webhooks secrets: `whsec_` and the base64 of the key bytes.
SECRET_PREFIX = "whsec_"
MIN_SECRET_BYTES = 24
MAX_SECRET_BYTES = 64
MAX_EVENT_TYPES = 100
MAX_URL = 2000

# Where a subscription's events go: posted to a URL, or published to a topic of the broker.
WEBHOOK: Literal["webhook"] = "webhook"
MQTT: Literal["mqtt"] = "mqtt"
SubscriptionKind = Literal["webhook", "mqtt"]
# Topics are UTF-8 strings up to 65535 bytes in MQTT; a subscription's is kept far shorter.
MAX_TOPIC = 200
# MQTT QoS 1: the broker acknowledges each event (PUBACK), so none is lost unnoticed.
MQTT_QOS = 1

ACTIVE, PAUSED = "active", "paused"
SubscriptionStatus = Literal["active", "paused"]
DELIVERED, FAILED, SKIPPED = "delivered", "failed", "skipped"


def cloud_type(event_type: str) -> str:
    """The CloudEvents `type` of a ticket event type."""
    return TYPE_PREFIX + event_type


def event_id(ticket_key: str, seq: int) -> str:
    """The event's id: the same on every delivery attempt of the same ticket event."""
    return f"{ticket_key}-{seq}"


def subscription_workflow_id(subscription_id: str) -> str:
    """The id of a subscription's delivery workflow (one per subscription)."""
    return f"subscription-{subscription_id}"


def cloud_attributes(ticket_key: str, event: Mapping[str, Any]) -> dict[str, Any]:
    """The CloudEvents attributes of one ticket event (the SDK builds the event from them)."""
    return {
        "specversion": "1.0",
        "id": event_id(ticket_key, int(event["seq"])),
        "source": EVENT_SOURCE,
        "type": cloud_type(str(event["type"])),
        "subject": ticket_key,
        "time": event["at"],
        "datacontenttype": "application/json",
    }


def secret_key(secret: str) -> bytes:
    """The key bytes of a `whsec_` secret; ValueError if it is not one."""
    if not secret.startswith(SECRET_PREFIX):
        raise ValueError(f"a secret starts with {SECRET_PREFIX!r}")
    try:
        key = base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except binascii.Error:
        raise ValueError(f"after {SECRET_PREFIX!r} a secret is base64") from None
    if not MIN_SECRET_BYTES <= len(key) <= MAX_SECRET_BYTES:
        raise ValueError(
            f"a secret holds {MIN_SECRET_BYTES} to {MAX_SECRET_BYTES} bytes, not {len(key)}"
        )
    return key


def topic_problem(topic: str) -> str | None:
    """Why an MQTT topic cannot carry a subscription's events, or None when it can.

    A topic to publish to names one topic: no wildcards; `$` topics are the broker's own.
    """
    if not topic:
        return "a topic is not empty"
    if len(topic.encode("utf-8", "surrogatepass")) > MAX_TOPIC:
        return f"a topic holds at most {MAX_TOPIC} bytes"
    if "+" in topic or "#" in topic:
        return "a topic to publish to has no wildcard ('+', '#')"
    if topic.startswith("$"):
        return "topics starting with '$' are the broker's"
    if any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in topic):
        return "a topic has no control characters"
    return None


def filter_problem(source: str) -> str | None:
    """Why a subscription's filter expression is unusable, or None when it compiles."""
    try:
        compile_expression(source)
        parse(source)
    except ExpressionError as exc:
        return str(exc)
    return None


def passes(source: str | None, document: Mapping[str, Any]) -> bool:
    """Whether a delivery's CloudEvent passes the filter (the document as delivered: the
    filter reads only what the subscriber may read). One the filter cannot evaluate, or that
    gives no boolean, does not pass."""
    if source is None:
        return True
    try:
        return holds(source, dict(document))
    except ExpressionError:
        return False


def wanted(event_types: list[str], event_type: str) -> bool:
    """Whether a subscription to `event_types` (empty: all) wants this ticket event type."""
    return not event_types or event_type in event_types


def type_problems(event_types: list[str], known: frozenset[str]) -> list[Problem]:
    """A problem for each event type that is no ticket event type, by its pointer."""
    return [
        Problem(pointer=f"/event_types/{i}", detail=f"{name!r} is not a ticket event type")
        for i, name in enumerate(event_types)
        if name not in known
    ]


class OutboxItem(BaseModel):
    """One outbox row: its position, and the ticket event it stands for."""

    position: int
    ticket_key: str
    seq: int
    type: str


class NextBatchInput(BaseModel):
    """Which subscription asks, after which position, for how many rows at most."""

    subscription_id: str
    after: int
    limit: int = 100
    wait_seconds: float = 20.0


class NextBatchResult(BaseModel):
    """Rows after the position, in order (empty when none arrived within the wait)."""

    items: list[OutboxItem] = Field(default_factory=list)


class DeliverInput(BaseModel):
    """One ticket's outbox rows, in order, to deliver to one subscription."""

    subscription_id: str
    ticket_key: str
    items: list[OutboxItem]


class DeliverResult(BaseModel):
    """How many were delivered, and how many skipped (not wanted, hidden, filtered, done)."""

    delivered: int = 0
    skipped: int = 0


class PauseInput(BaseModel):
    """A subscription to pause, and why."""

    subscription_id: str
    reason: str


class PauseResult(BaseModel):
    """Whether it was active until now."""

    paused: bool


class SubscriptionStart(BaseModel):
    """A subscription's delivery workflow: where it resumes, and how long it retries one event."""

    subscription_id: str
    after: int = 0
    retry_for: timedelta = timedelta(hours=24)
    max_backoff: timedelta = timedelta(minutes=5)
    paused: bool = False
