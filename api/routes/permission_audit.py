"""The permission-change report (who, when, before, after, reason) as JSON or CSV."""

from __future__ import annotations

import csv
import io
import json
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Response
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse

from api.csv_cells import csv_row
from api.deps import SessionDep, require_roles
from api.schemas import DateTimeParam, json_or_csv
from policies.authorization import READ_PERMISSION_AUDIT
from store import access as store

router = APIRouter(tags=["audit"], dependencies=[Depends(require_roles(*READ_PERMISSION_AUDIT))])

COLUMNS = ("seq", "at", "actor", "action", "before", "after", "reason", "prev_hash", "hash")


@router.get(
    "/audit/permissions",
    responses=json_or_csv(
        {
            "type": "object",
            "required": list(COLUMNS),
            "properties": {
                "seq": {"type": "integer"},
                "at": {"type": "string", "format": "date-time"},
                "actor": {"type": "string"},
                "action": {"type": "string"},
                "before": {},
                "after": {},
                "reason": {"type": "string"},
                "prev_hash": {"type": "string"},
                "hash": {"type": "string"},
            },
        },
        "Audit entries, oldest first (CSV: `before` and `after` as JSON text).",
    ),
)
async def permission_changes(
    session: SessionDep,
    start: Annotated[DateTimeParam | None, Query(alias="from")] = None,
    end: Annotated[DateTimeParam | None, Query(alias="to")] = None,
    format_: Annotated[Literal["json", "csv"], Query(alias="format")] = "json",
) -> Response:
    """Policy and role changes in [from, to), oldest first, with their hash chain."""
    rows = await store.list_audit(session=session, start=start, end=end)
    entries = [{c: getattr(r, c) for c in COLUMNS} for r in rows]
    if format_ == "json":
        return JSONResponse(jsonable_encoder(entries))
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(csv_row(COLUMNS))
    for entry in entries:
        cells = {
            **entry,
            "at": entry["at"].isoformat(),
            "before": json.dumps(entry["before"], sort_keys=True),
            "after": json.dumps(entry["after"], sort_keys=True),
        }
        writer.writerow(csv_row(cells[c] for c in COLUMNS))
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8")
