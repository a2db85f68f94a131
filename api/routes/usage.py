"""Usage metering over HTTP: exact counts per day, subject and department, JSON or CSV."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse, Response

from api.csv_cells import csv_row
from api.deps import ActorDep, SessionDep, require_roles
from api.problems import ProblemError
from api.schemas import json_or_csv
from domain.problems import Problem
from policies.authorization import READ_USAGE, usage_subject
from store.usage import METRICS, UsageRow, usage

# A year and a day: any calendar year, leap or not, in one request.
MAX_DAYS = 366
COLUMNS = ("day", "subject", "department", *METRICS)
ITEM: dict[str, Any] = {
    "type": "object",
    "required": list(COLUMNS),
    "properties": {
        "day": {"type": "string", "format": "date"},
        "subject": {"type": "string"},
        "department": {"type": "string"},
        **{metric: {"type": "integer", "minimum": 0} for metric in METRICS},
    },
}

router = APIRouter(tags=["usage"], dependencies=[Depends(require_roles(*READ_USAGE))])


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def _flat(row: UsageRow) -> dict[str, Any]:
    return {"day": row.day, "subject": row.subject, "department": row.department, **row.counts}


def _csv(rows: list[UsageRow]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(csv_row(COLUMNS))
    for row in rows:
        flat = _flat(row)
        writer.writerow(csv_row(flat[c] for c in COLUMNS))
    return out.getvalue()


@router.get(
    "/usage",
    responses=json_or_csv(
        ITEM, "Counts per UTC day, subject and department (days with no count left out)."
    ),
)
async def read_usage(
    session: SessionDep,
    actor: ActorDep,
    start: Annotated[date, Query(alias="from", description="First UTC day, YYYY-MM-DD.")],
    end: Annotated[date, Query(alias="to", description="The UTC day after the last one.")],
    format_: Annotated[Literal["json", "csv"], Query(alias="format")] = "json",
    subject: Annotated[
        str | None, Query(max_length=100, description="Admins: one subject's usage only.")
    ] = None,
) -> Response:
    """Tickets created, transitions, automated actions, device reads and deliveries in the UTC
    days [from, to), exact, per subject (the ticket's creator; a delivery's subscriber) and the
    ticket's department. A system reads only its own usage."""
    allowed, whose = usage_subject(actor.role, actor.user, subject)
    if not allowed:
        raise ProblemError(403, f"{actor.user} may read only its own usage")
    if end <= start or (end - start) > timedelta(days=MAX_DAYS):
        raise ProblemError(
            422,
            "the period is not valid",
            problems=[
                Problem(
                    pointer="query:/to",
                    detail=f"must be after `from`, at most {MAX_DAYS} days after it",
                )
            ],
        )
    rows = await usage(session=session, start=_midnight(start), end=_midnight(end), subject=whose)
    if format_ == "csv":
        return Response(_csv(rows), media_type="text/csv; charset=utf-8")
    return JSONResponse([_flat(row) for row in rows])
