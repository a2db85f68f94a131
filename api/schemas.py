"""Request and response bodies of the HTTP API."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field
from pydantic.config import JsonDict

from api.params import COLUMN_INT_MAX
from domain.problems import Problem
from domain.sla import DEFAULT_PRIORITY, Priority


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


def _redactable(*always: str) -> Callable[[JsonDict], None]:
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


class PublishFormRequest(Strict):
    """A form to publish as the next version of its key."""

    key: str = Field(pattern=r"^[a-z][a-z0-9_-]{0,62}$")
    title: str = Field(min_length=1, max_length=200)
    schema_: JsonObject = Field(alias="schema")


class FormSummary(BaseModel):
    """A published form version."""

    key: str
    version: int
    title: str
    published_at: datetime
    published_by: str


class FormDetail(FormSummary):
    """A published form version with its schema."""

    json_schema: JsonObject = Field(serialization_alias="schema")


class CreateTicketRequest(Strict):
    """File a ticket against a published definition (its latest version unless given)."""

    definition: str = Field(min_length=1, max_length=63)
    version: int | None = Field(default=None, ge=1, le=COLUMN_INT_MAX)
    data: JsonObject = Field(default_factory=dict, description="Intake form data.")
    priority: Priority = Field(default=DEFAULT_PRIORITY, description="P1 (most urgent) to P4.")
    allow_duplicate: bool = Field(default=False, description="File even if it repeats a ticket.")


class TicketCreated(BaseModel):
    """The ticket a create made (or, on an idempotent retry, made before)."""

    key: str
    status: str
    definition_key: str
    definition_version: int
    duplicate_of: str | None = None


class TaskView(BaseModel):
    """A stage task or follow-up as stored in the projection (redacted: fields may be absent).

    A follow-up (`kind` `followup`) has its follow-up id as `stage_key`.
    """

    model_config = ConfigDict(
        from_attributes=True, json_schema_extra=_redactable("id", "ticket_key")
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


class TicketSummary(BaseModel):
    """A ticket in a list (redacted: fields other than the key may be absent)."""

    model_config = ConfigDict(from_attributes=True, json_schema_extra=_redactable("key"))

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


class TicketDetail(TicketSummary):
    """A ticket with its intake data and tasks."""

    intake: JsonObject
    last_seq: int
    tasks: list[TaskView]


class TicketPage(BaseModel):
    """One page of tickets; pass `next_cursor` as `cursor` for the next."""

    items: list[TicketSummary]
    next_cursor: str | None


class EventView(BaseModel):
    """One recorded transition (redacted: the actor and data may be hidden)."""

    model_config = ConfigDict(
        from_attributes=True, json_schema_extra=_redactable("seq", "type", "at")
    )

    seq: int
    type: str
    at: datetime
    actor: str
    data: JsonObject


class TaskPage(BaseModel):
    """Tasks still to do."""

    items: list[TaskView]


class CompleteTaskRequest(Strict):
    """Form data that completes a stage."""

    data: JsonObject = Field(default_factory=dict)


class ReassignTaskRequest(Strict):
    """Move a task to another group and/or hand it to a person."""

    to_group: str | None = Field(default=None, min_length=1, max_length=100)
    to_user: str | None = Field(default=None, min_length=1, max_length=100)
    reason: str = Field(min_length=1, max_length=2000)


class WithdrawRequest(Strict):
    """Why a follow-up is no longer needed."""

    reason: str = Field(default="", max_length=2000)


class CommentRequest(Strict):
    """A comment on a ticket."""

    body: str = Field(min_length=1, max_length=20_000)
    internal: bool = False


class CancelRequest(Strict):
    """Why the ticket is cancelled."""

    reason: str = Field(min_length=1, max_length=2000)


class ReopenRequest(Strict):
    """Why the resolution is rejected, and which stages must run again (default: the last)."""

    reason: str = Field(min_length=1, max_length=2000)
    stages: list[str] | None = None


class ConfirmRequest(Strict):
    """The requester accepts the resolution."""

    comment: str = Field(default="", max_length=2000)


class SignalRequest(Strict):
    """An outside system's event."""

    payload: JsonObject = Field(default_factory=dict)


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
