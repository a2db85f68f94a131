"""View models several routers share; each router module owns its own requests and responses."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field
from pydantic.config import JsonDict

from domain.problems import Problem
from domain.sla import DEFAULT_PRIORITY


def _finite(value: Any) -> Any:
    """Refuse NaN and Infinity anywhere inside: Python's JSON parser accepts them, JSON does not."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("NaN and Infinity are not JSON numbers")
    if isinstance(value, dict):
        for item in value.values():
            _finite(item)
    elif isinstance(value, list):
        for item in value:
            _finite(item)
    return value


JsonObject = Annotated[dict[str, Any], AfterValidator(_finite)]

_NUMBER = re.compile(r"[+-]?[0-9]+(\.[0-9]*)?")


def _not_a_number(value: Any) -> Any:
    """Refuse a number where a date-time is documented: pydantic would read it as Unix time."""
    if isinstance(value, int | float) or (isinstance(value, str) and _NUMBER.fullmatch(value)):
        raise ValueError("expected an RFC 3339 date-time such as 2026-01-31T09:00:00Z")
    return value


DateTimeParam = Annotated[datetime, BeforeValidator(_not_a_number)]


def redactable(*always: str) -> Callable[[JsonDict], None]:
    """A JSON-schema hook for a redacted view: only `always` stays required in the document.

    Redaction removes every field the caller may not read, so a response shows a subset; the
    Python model keeps its types for the views that build it.
    """

    def only_always_required(schema: JsonDict) -> None:
        required = schema.get("required")
        if isinstance(required, list):
            schema["required"] = [name for name in required if name in always]

    return only_always_required


class Strict(BaseModel):
    """Request bodies refuse unknown fields, so typos surface as 422s."""

    model_config = ConfigDict(extra="forbid")


class DefinitionSummary(BaseModel):
    """A published definition version."""

    key: str
    version: int
    title: str
    department: str
    key_prefix: str
    published_at: datetime
    published_by: str


class DefinitionDetail(DefinitionSummary):
    """A published definition version with its full document (forms inline)."""

    document: JsonObject


class ValidationReport(BaseModel):
    """The outcome of checking a definition without publishing it."""

    valid: bool
    errors: list[Problem]


class FormSummary(BaseModel):
    """A published form version."""

    key: str
    version: int
    title: str
    published_at: datetime
    published_by: str


class TaskView(BaseModel):
    """A stage task or follow-up as stored in the projection (redacted: fields may be absent).

    A follow-up (`kind` `followup`) has its follow-up id as `stage_key`.
    """

    model_config = ConfigDict(
        from_attributes=True, json_schema_extra=redactable("id", "ticket_key")
    )

    id: str
    ticket_key: str
    stage_key: str
    kind: str = "stage"
    title: str
    group: str = Field(validation_alias="group_name")
    status: str
    assignee: str | None
    round: int
    opened_at: datetime | None
    claimed_at: datetime | None
    completed_at: datetime | None
    completed_by: str | None
    data: JsonObject
    until: datetime | None = Field(default=None, description="When a wait or timer ends.")
    child: str | None = Field(default=None, description="A subprocess's child ticket.")
    error: str | None = Field(
        default=None, description="Why a service stage failed (its task asks for a decision)."
    )


class TicketSummary(BaseModel):
    """A ticket in a list (redacted: fields other than the key may be absent)."""

    model_config = ConfigDict(from_attributes=True, json_schema_extra=redactable("key"))

    key: str
    definition_key: str
    definition_version: int
    department: str
    title: str
    status: str
    requester: str
    created_at: datetime
    updated_at: datetime
    resolved_at: datetime | None
    closed_at: datetime | None
    priority: str = DEFAULT_PRIORITY
    waiting_for: str | None = None


class TransitionView(BaseModel):
    """The outcome of a change: the ticket's status and sequence number after it."""

    key: str
    status: str
    seq: int
    task: JsonObject | None = None


def json_or_csv(items: JsonDict, description: str) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a report: a JSON array of `items`, or CSV text with `format=csv`."""
    return {
        200: {
            "description": description,
            "content": {
                "application/json": {"schema": {"type": "array", "items": items}},
                "text/csv": {"schema": {"type": "string"}},
            },
        }
    }
