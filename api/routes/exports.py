"""Exports of tickets (JSON, JSON Lines or CSV), streamed page by page, redacted like every exit."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import StreamingResponse
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.csv_cells import csv_row
from api.deps import AccessDep, ActorDep
from api.problems import ProblemError
from api.schemas import DateTimeParam, TicketSummary, json_or_csv
from api.ticket_access import ticket_views, visible_filter
from domain.problems import Problem
from domain.ticket import Actor
from policies.access import AccessControl
from policies.redaction import TICKET_SHAPE, redact
from store import tickets as store

router = APIRouter(tags=["tickets"])
# Tickets read per query: the export holds one page at a time, whatever the period's size.
PAGE = 200
NDJSON = "application/x-ndjson"
ITEM: dict[str, Any] = {
    "type": "object",
    "required": ["key"],
    "properties": {"key": {"type": "string"}},
}


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


class _Export:
    """The caller's visible tickets of one export, read again page by page on each pass."""

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        access: AccessControl,
        actor: Actor,
        filters: store.TicketFilter,
        limit: int | None,
    ) -> None:
        self._sessions = sessions
        self._access = access
        self._actor = actor
        self._filters = filters
        self._limit = limit

    async def pages(self, *, count_reads: bool) -> AsyncIterator[list[dict[str, Any]]]:
        """Redacted documents, newest first, one keyset page at a time (each its own session)."""
        left = self._limit
        cursor: str | None = None
        while left is None or left > 0:
            # A short session per page: no transaction or identity map lives for the export.
            async with self._sessions() as session:
                rows, cursor = await store.list_tickets(
                    session=session, filters=self._filters, limit=PAGE, cursor=cursor
                )
                views = await ticket_views(
                    session=session, access=self._access, actor=self._actor, rows=rows
                )
            documents: list[dict[str, Any]] = []
            for row, view in zip(rows, views, strict=True):
                if not view.visible() or (left is not None and len(documents) >= left):
                    continue
                document = {**TicketSummary.model_validate(row).model_dump(), "intake": row.intake}
                documents.append(jsonable_encoder(redact(document, view, TICKET_SHAPE)))
                if count_reads:
                    self._access.usage.read(view)
            if left is not None:
                left -= len(documents)
            if documents:
                yield documents
            if cursor is None:
                break


async def _json_array(export: _Export) -> AsyncIterator[str]:
    yield "["
    first = True
    async for documents in export.pages(count_reads=True):
        for document in documents:
            yield ("" if first else ",") + json.dumps(document)
            first = False
    yield "]"


async def _json_lines(export: _Export) -> AsyncIterator[str]:
    async for documents in export.pages(count_reads=True):
        yield "".join(json.dumps(document) + "\n" for document in documents)


async def _csv(export: _Export) -> AsyncIterator[str]:
    # A CSV header comes first, so a first pass finds the columns (as many as the forms have
    # fields, never one per ticket) and a second writes the rows.
    columns: dict[str, None] = {}
    async for documents in export.pages(count_reads=False):
        for document in documents:
            columns.update(dict.fromkeys(_flatten(document)))
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(csv_row(columns))
    yield out.getvalue()
    async for documents in export.pages(count_reads=True):
        out.seek(0)
        out.truncate()
        for document in documents:
            flat = _flatten(document)
            writer.writerow(csv_row(flat.get(c, "") for c in columns))
        yield out.getvalue()


def _aware(name: str, value: datetime | None) -> None:
    if value is not None and value.tzinfo is None:
        raise ProblemError(
            422,
            "times need a UTC offset",
            problems=[Problem(pointer=f"query:/{name}", detail="add Z or +HH:MM")],
        )


def _responses() -> dict[int | str, dict[str, Any]]:
    responses = json_or_csv(
        ITEM,
        "Redacted tickets, with their intake under `intake` (CSV: `intake.<field>` columns; "
        "JSON Lines: one ticket a line).",
    )
    responses[200]["content"][NDJSON] = {"schema": {"type": "string"}}
    return responses


@router.get("/tickets/export", responses=_responses())
async def export_tickets(
    request: Request,
    actor: ActorDep,
    access: AccessDep,
    format_: Annotated[Literal["json", "jsonl", "csv"], Query(alias="format")] = "json",
    definition: Annotated[str | None, Query(max_length=63)] = None,
    created_from: Annotated[DateTimeParam | None, Query(alias="from")] = None,
    created_to: Annotated[DateTimeParam | None, Query(alias="to")] = None,
    limit: Annotated[int | None, Query(ge=1)] = None,
) -> StreamingResponse:
    """Every ticket the caller may see created in [from, to) (newest first, up to `limit`).

    Streamed page by page, so a period of any size takes the same memory.
    """
    _aware("from", created_from)
    _aware("to", created_to)
    filters = store.TicketFilter(
        definition_key=definition,
        created_from=created_from,
        created_to=created_to,
        **visible_filter(access, actor),
    )
    export = _Export(
        sessions=request.app.state.sessions,
        access=access,
        actor=actor,
        filters=filters,
        limit=limit,
    )
    if format_ == "csv":
        return StreamingResponse(_csv(export), media_type="text/csv; charset=utf-8")
    if format_ == "jsonl":
        return StreamingResponse(_json_lines(export), media_type=NDJSON)
    return StreamingResponse(_json_array(export), media_type="application/json")
