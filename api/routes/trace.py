"""A ticket's evidence trace: time, organisation and data in one document, redacted."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, JsonValue

from api.deps import AccessDep, ActorDep, DefinitionsDep, SessionDep
from api.problems import PROBLEM_JSON, ProblemDocument, ProblemError
from api.routes.tickets import EventView
from api.schemas import JsonObject, redactable
from api.ticket_access import readable_ticket
from policies.trace import redact_trace
from services.trace import ticket_trace

# Every part of a trace may be redacted away: only the ticket's key and the axes are certain.
_ANY = ConfigDict(json_schema_extra=redactable())


class SpanView(BaseModel):
    """One round of a stage's task: opened, claimed, ended, and how long each part took."""

    model_config = _ANY

    task: str
    stage: str
    round: int
    kind: str
    group: str
    status: str
    opened_at: datetime | None
    claimed_at: datetime | None
    ended_at: datetime | None
    completed_by: str | None
    seconds: float | None = Field(description="Opened to ended.")
    to_claim_seconds: float | None = Field(description="Opened to first claim.")


class WaitView(BaseModel):
    """A wait: `claim`, `confirmation`, `on_hold`, `sla_paused`, `signal`, `timer`, `child`."""

    model_config = _ANY

    kind: str
    started_at: datetime
    ended_at: datetime | None
    seconds: float | None
    outcome: str | None
    task: str | None
    stage: str | None
    round: int | None
    clock: str | None
    reason: str | None
    signal: str | None


class RoundView(BaseModel):
    """One pass of the ticket, from its start or a reopen."""

    model_config = _ANY

    round: int
    started_at: datetime
    resolved_at: datetime | None
    ended_at: datetime | None
    outcome: str | None
    seconds: float | None = Field(description="Started to resolved.")


class TimeView(BaseModel):
    """The time axis."""

    model_config = ConfigDict(json_schema_extra=redactable("transitions"))

    created_at: datetime | None
    closed_at: datetime | None
    seconds: float | None = Field(description="First report to closed.")
    rounds: list[RoundView]
    transitions: list[EventView] = Field(description="The events, each by its declared shape.")
    stages: list[SpanView]
    waits: list[WaitView]


class ActionView(BaseModel):
    """Something an actor did."""

    model_config = _ANY

    seq: int
    type: str
    at: datetime
    stage: str | None
    round: int | None
    group: str | None


class ActorView(BaseModel):
    """An actor, their account's department and role, and what they did."""

    model_config = _ANY

    user: str
    kind: str
    department: str | None
    role: str | None
    groups: list[str]
    actions: list[ActionView]


class StageRefView(BaseModel):
    """A stage round a department held."""

    model_config = _ANY

    stage: str
    round: int
    seconds: float | None


class DepartmentView(BaseModel):
    """A department's stage rounds, people and time."""

    model_config = _ANY

    department: str
    stages: list[StageRefView]
    people: list[str]
    seconds: float


class HandoverView(BaseModel):
    """Work passing between departments (`stage`: to a later stage; `moved`: a task moved)."""

    model_config = _ANY

    kind: str
    from_group: str
    to_group: str
    from_stage: str
    to_stage: str
    from_round: int
    to_round: int
    left_at: datetime
    arrived_at: datetime
    gap_seconds: float


class OrganisationView(BaseModel):
    """The organisation axis."""

    model_config = ConfigDict(json_schema_extra=redactable("actors"))

    actors: list[ActorView]
    departments: list[DepartmentView]
    handovers: list[HandoverView]


class DeliverableView(BaseModel):
    """A version handed over."""

    model_config = _ANY

    stage: str
    deliverable: str
    version: int
    sha256: str
    size: int
    media_type: str
    file_name: str
    author: str
    at: datetime
    value: JsonValue = None


class SnapshotView(BaseModel):
    """A device snapshot the ticket took, its seal checked against the stored document."""

    model_config = _ANY

    device_id: str
    sha256: str
    taken_at: datetime | None
    good: int | None
    bad: int | None
    task: str | None
    stage: str | None
    stored: bool
    sealed: bool


class DataView(BaseModel):
    """The data axis, one section each (`rating`: none recorded yet)."""

    model_config = _ANY

    deliverables: list[DeliverableView]
    snapshots: list[SnapshotView]
    rating: list[JsonObject]


class TraceView(BaseModel):
    """A ticket's evidence trace, as far as the caller may read it."""

    key: str
    time: TimeView
    organisation: OrganisationView
    data: DataView


def _problem(description: str) -> dict[str, Any]:
    schema = {"$ref": f"#/components/schemas/{ProblemDocument.__name__}"}
    return {"description": description, "content": {PROBLEM_JSON: {"schema": schema}}}


TRACE_ERRORS: dict[int | str, dict[str, Any]] = {
    401: _problem("No valid bearer token."),
    403: _problem("The caller sees the ticket but may not read `ticket.events`."),
    404: _problem("No such ticket, or one the caller may not see."),
}

router = APIRouter(tags=["tickets"])


@router.get("/tickets/{key}/trace", response_model=TraceView, responses=TRACE_ERRORS)
async def ticket_trace_view(
    key: str,
    session: SessionDep,
    actor: ActorDep,
    access: AccessDep,
    definitions: DefinitionsDep,
) -> Response:
    """The ticket's evidence chain: time, organisation and data, by the trace's declared shape.

    Time: every transition (each event as the timeline shows it), each stage round's span with
    its durations, every wait (for a claim, the requester's confirmation, on hold, paused SLA
    clocks, signals, timers, child tickets) and the rounds reopens start. Organisation: each
    actor with their account's department and role and what they did, each department's
    stage rounds, the hand-overs between departments with their gaps. Data: deliverable
    versions (SHA-256, size, media type, author, time), device snapshots with their seals
    checked, and the customer's rating (none recorded yet). What the caller may not read is
    absent. For callers who may read `ticket.events`, as for the timeline.
    """
    row, view = await readable_ticket(session=session, key=key, actor=actor, access=access)
    if not view.readable("events"):
        raise ProblemError(403, "you may not read ticket.events")
    definition = await definitions.get(
        session=session, key=row.definition_key, version=row.definition_version
    )
    if definition is None:
        raise ProblemError(
            500, f"definition {row.definition_key}@{row.definition_version} is missing"
        )
    found = await ticket_trace(session=session, key=key, definition=definition)
    access.usage.read(view)
    return JSONResponse(jsonable_encoder(redact_trace(found.model_dump(mode="json"), view)))
