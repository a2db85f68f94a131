"""Ticket events as CloudEvents 1.0 in structured JSON mode, built and read by the SDK."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cloudevents.core.base import BaseCloudEvent
from cloudevents.core.bindings.http import HTTPMessage, from_http_event, to_structured_event
from cloudevents.core.v1.event import CloudEvent
from pydantic_core import to_jsonable_python

from domain.events_out import cloud_attributes


def structured(ticket_key: str, event: Mapping[str, Any]) -> bytes:
    """The structured-mode JSON body of one (already redacted) ticket event.

    The whole event is the data, made JSON-safe first so every value has one spelling.
    """
    data = to_jsonable_python(dict(event))
    cloud = CloudEvent(cloud_attributes(ticket_key, event), data)
    return to_structured_event(cloud).body


def read_structured(body: bytes) -> BaseCloudEvent:
    """The CloudEvent a structured-mode JSON body holds (what a receiver does with it)."""
    return from_http_event(
        HTTPMessage(headers={"content-type": "application/cloudevents+json"}, body=body)
    )
