"""Exports of tickets (JSON or CSV), redacted like every other exit."""

from __future__ import annotations

import csv
import io
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse

from api.csv_cells import csv_row
from api.deps import AccessDep, ActorDep, SessionDep
from api.schemas import TicketSummary, json_or_csv
from api.ticket_access import ticket_views, visible_filter
from policies.redaction import TICKET_SHAPE, redact
from store import tickets as store

router = APIRouter(tags=["tickets"])
_PAGE = 200


def _flatten(document: dict[str, Any]) -> dict[str, Any]:
    """One CSV row: nested intake values (already redacted) each in a column of their own.

    `intake.contact.phone` for an object's property, `intake.devices[0].serial` for an item's.
    """
    flat = {k: v for k, v in document.items() if k != "intake"}
    stack: list[tuple[str, Any]] = [("intake", document.get("intake", {}))]
    while stack:
        column, value = stack.pop()
        if isinstance(value, dict) and value:
            stack.extend((f"{column}.{k}", v) for k, v in reversed(value.items()))
        elif isinstance(value, list) and value:
            stack.extend((f"{column}[{i}]", v) for i, v in reversed(list(enumerate(value))))
        elif column != "intake":
            flat[column] = value if not isinstance(value, dict | list) else ""
    return flat


@router.get(
    "/tickets/export",
    responses=json_or_csv(
        {"type": "object", "required": ["key"], "properties": {"key": {"type": "string"}}},
        "Redacted tickets, with their intake under `intake` (CSV: `intake.<field>` columns).",
    ),
)
async def export_tickets(
    session: SessionDep,
    actor: ActorDep,
    access: AccessDep,
    format_: Annotated[Literal["json", "csv"], Query(alias="format")] = "json",
    definition: Annotated[str | None, Query(max_length=63)] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> Response:
    """Every ticket the caller may see (newest first, up to `limit`), with intake data."""
    filters = store.TicketFilter(definition_key=definition, **visible_filter(access, actor))
    documents: list[dict[str, Any]] = []
    cursor = None
    while len(documents) < limit:
        rows, cursor = await store.list_tickets(
            session=session, filters=filters, limit=_PAGE, cursor=cursor
        )
        views = await ticket_views(session=session, access=access, actor=actor, rows=rows)
        for row, view in zip(rows, views, strict=True):
            if view.visible():
                document = {**TicketSummary.model_validate(row).model_dump(), "intake": row.intake}
                documents.append(redact(document, view, TICKET_SHAPE))
                access.usage.read(view)
        if cursor is None:
            break
    documents = documents[:limit]
    if format_ == "json":
        return JSONResponse(jsonable_encoder(documents))
    rows_out = [_flatten(jsonable_encoder(d)) for d in documents]
    columns = list(dict.fromkeys(c for r in rows_out for c in r))
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(csv_row(columns))
    writer.writerows(csv_row(r.get(c, "") for c in columns) for r in rows_out)
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8")
