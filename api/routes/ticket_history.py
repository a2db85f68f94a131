"""A ticket's audit history: the timeline rebuilt from Temporal, or the raw history."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from api.deps import AccessDep, ActorDep, SessionDep, TemporalDep
from api.problems import PROBLEM_JSON, ProblemDocument, ProblemError
from api.schemas import JsonObject, redactable
from api.ticket_access import readable_ticket
from domain.history import Cause
from policies.authorization import READ_RAW_HISTORY, may_call
from policies.event_shapes import redact_events
from services.ticket_history import (
    HistoryDoesNotReplay,
    TicketNotInTemporal,
    child_keys,
    raw_history,
    replayed_entries,
    ticket_runs,
)


class HistoryEntryView(BaseModel):
    """One event as the workflow recorded it, with its run and cause (actor and data redacted)."""

    model_config = ConfigDict(json_schema_extra=redactable("seq", "type", "at", "run_id", "cause"))

    seq: int
    type: str
    at: datetime
    actor: str
    data: JsonObject
    run_id: str
    cause: Cause


class TicketHistoryView(BaseModel):
    """The business timeline from every run of the ticket's workflow."""

    key: str
    runs: list[str] = Field(description="Run ids, first to latest (continue-as-new chain).")
    parent: str | None = Field(default=None, description="The parent ticket's key, if a child.")
    children: list[str] = Field(default_factory=list, description="Child tickets' keys.")
    entries: list[HistoryEntryView]


class RawRun(BaseModel):
    """One run's Temporal events as JSON, payloads decoded with the data converter."""

    run_id: str
    events: list[dict[str, Any]]


class RawHistoryView(BaseModel):
    """Every run's raw Temporal history."""

    key: str
    runs: list[RawRun]


router = APIRouter(tags=["tickets"])


def _problem(description: str) -> dict[str, Any]:
    schema = {"$ref": f"#/components/schemas/{ProblemDocument.__name__}"}
    return {"description": description, "content": {PROBLEM_JSON: {"schema": schema}}}


RESPONSES: dict[int | str, dict[str, Any]] = {
    401: _problem("No valid bearer token."),
    403: _problem(
        "The caller may not read `ticket.events`; or `format=raw` by a role other than "
        "auditor or admin, or by a caller who may not read every field."
    ),
    404: _problem("No such ticket, one the caller may not see, or no workflow for it."),
    409: _problem("A run's history does not replay on this version of the workflow code."),
}


@router.get(
    "/tickets/{key}/history",
    response_model=TicketHistoryView | RawHistoryView,
    responses=RESPONSES,
)
async def ticket_history(
    key: str,
    session: SessionDep,
    actor: ActorDep,
    access: AccessDep,
    temporal: TemporalDep,
    format: Annotated[Literal["timeline", "raw"], Query()] = "timeline",
) -> Response:
    """The timeline rebuilt from Temporal history: who, what, when, and the Update or Signal."""
    row, view = await readable_ticket(session=session, key=key, actor=actor, access=access)
    if not view.readable("events"):
        raise ProblemError(403, "you may not read ticket.events")
    if format == "raw" and not may_call(actor.role, READ_RAW_HISTORY):
        raise ProblemError(403, f"role {actor.role!r} may not read the raw history")
    # The raw history is not redacted: only a caller who may read every field of the ticket
    # gets it.
    hidden = sorted(name for name in view.catalog.fields if not view.readable(name))
    if format == "raw" and hidden:
        raise ProblemError(
            403,
            "the raw history is not redacted, and you may not read "
            + ", ".join(f"ticket.{name}" for name in hidden),
        )
    parent = row.parent_key
    await session.rollback()  # release the read before the Temporal calls
    try:
        runs = await ticket_runs(client=temporal, key=key)
        if format == "raw":
            raw = await raw_history(runs=runs, data_converter=temporal.data_converter)
            return JSONResponse(jsonable_encoder({"key": key, "runs": raw}))
        entries = await replayed_entries(runs=runs, data_converter=temporal.data_converter)
    except TicketNotInTemporal:
        raise ProblemError(404, f"no history for ticket {key}") from None
    except HistoryDoesNotReplay as exc:
        raise ProblemError(409, str(exc)) from None
    extra = {e.event.seq: {"run_id": e.run_id, "cause": e.cause.model_dump()} for e in entries}
    shown = redact_events([e.event.model_dump() for e in entries], view)
    body = {
        "key": key,
        "runs": [r.run_id for r in runs],
        "parent": parent,
        # A child's key is shown like the timeline's `subprocess_started` shows it.
        "children": child_keys(entries) if view.readable("tasks") else [],
        "entries": [{**e, **extra[e["seq"]]} for e in shown],
    }
    if not view.readable("tasks"):
        body["parent"] = None
    return JSONResponse(jsonable_encoder(body))
