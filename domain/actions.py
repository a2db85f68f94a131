"""The actions a `service` stage can run: names, parameter and output schemas, bounds.

An action is a Temporal activity registered on a worker under `action_activity(name)`. Its spec
is data the publish checks read: the parameters a stage gives are checked against
`params_schema`, its timeout against `max_timeout`, and later expressions may name the fields of
`output_schema`. An action whose spec `reads_device` (`device.snapshot`) has no such activity:
the workflow runs it as the device lookup and the edge read (domain.device_evidence).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

JsonSchema = dict[str, Any]


class ActionSpec(BaseModel):
    """What one action takes and gives, and how long it may take per attempt."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    description: str
    params_schema: JsonSchema
    output_schema: JsonSchema
    max_timeout: timedelta = timedelta(minutes=5)
    output_fields_from: str | None = Field(
        default=None,
        description="The parameter whose object keys are output fields (http.request's select).",
    )
    reads_device: bool = Field(
        default=False,
        description=(
            "Run by the workflow, not as `action_activity(name)`: the device its `device` "
            "parameter names is looked up on the ticket worker (`device_lookup`) and read on its "
            "site's edge queue by a `DeviceSnapshotWorkflow` child; the snapshot's summary is "
            "the output."
        ),
    )


class ActionInput(BaseModel):
    """One run of an action: the stage's parameters with their expressions already evaluated."""

    ticket_key: str
    stage: str
    action: str
    params: dict[str, Any] = Field(default_factory=dict)


class ActionOutput(BaseModel):
    """What an action gives back: stored as the stage's output."""

    output: dict[str, Any] = Field(default_factory=dict)


def action_activity(name: str) -> str:
    """The activity type an action runs as."""
    return f"action.{name}"


HTTP_REQUEST = ActionSpec(
    name="http.request",
    description=(
        "An outbound HTTP call to an allow-listed host; the response body's chosen fields "
        "become the stage's output."
    ),
    params_schema={
        "type": "object",
        "additionalProperties": False,
        "required": ["url"],
        "properties": {
            "method": {"enum": ["GET", "POST", "PUT", "PATCH", "DELETE"], "default": "GET"},
            "url": {"type": "string", "minLength": 1, "maxLength": 2000},
            "query": {"type": "object", "additionalProperties": {"type": "string"}},
            "headers": {"type": "object", "additionalProperties": {"type": "string"}},
            "body": {},
            "select": {
                "type": "object",
                "description": "Output field -> JSON pointer into the response body.",
                "additionalProperties": {"type": "string", "pattern": "^(/[^/]*)*$"},
                "maxProperties": 50,
            },
        },
    },
    output_schema={
        "type": "object",
        "properties": {"status": {"type": "integer"}},
        "additionalProperties": True,
    },
    max_timeout=timedelta(minutes=2),
    output_fields_from="select",
)

SET_FIELDS = ActionSpec(
    name="ticket.set_fields",
    description="Computed values into the ticket: each field's expression, as evaluated.",
    params_schema={
        "type": "object",
        "additionalProperties": False,
        "required": ["fields"],
        "properties": {
            "fields": {
                "type": "object",
                "minProperties": 1,
                "maxProperties": 50,
                "propertyNames": {"pattern": "^[a-z][a-z0-9_]{0,62}$"},
            }
        },
    },
    output_schema={"type": "object", "additionalProperties": True},
    max_timeout=timedelta(seconds=30),
    output_fields_from="fields",
)

_POINT_SUMMARY = {
    "type": "object",
    "properties": {
        "value": {"type": ["number", "boolean", "null"]},
        "unit": {"type": "string"},
        "quality": {"enum": ["good", "bad"]},
    },
}

DEVICE_SNAPSHOT = ActionSpec(
    name="device.snapshot",
    description=(
        "Every point of a registered device read once on its site's edge worker; the sealed "
        "snapshot is kept as the ticket's evidence and its summary becomes the stage's output."
    ),
    params_schema={
        "type": "object",
        "additionalProperties": False,
        "required": ["device"],
        "properties": {"device": {"type": "string", "minLength": 1, "maxLength": 80}},
    },
    output_schema={
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "device_id": {"type": "string"},
            "taken_at": {"type": "string", "format": "date-time"},
            "sha256": {"type": "string"},
            "good": {"type": "integer"},
            "bad": {"type": "integer"},
            "points": {"type": "object", "additionalProperties": _POINT_SUMMARY},
        },
    },
    # The per-attempt bound of the lookup on the ticket worker; the read itself has the
    # snapshot workflow's own timeouts and retry policy (domain.device_snapshot).
    max_timeout=timedelta(seconds=30),
    reads_device=True,
)

BUILTIN_ACTIONS: dict[str, ActionSpec] = {
    spec.name: spec for spec in (HTTP_REQUEST, SET_FIELDS, DEVICE_SNAPSHOT)
}


def reads_device(action: str) -> bool:
    """Whether the workflow runs this action as a device read on the device's edge queue."""
    spec = BUILTIN_ACTIONS.get(action)
    return spec is not None and spec.reads_device
