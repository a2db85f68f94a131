"""The audit timeline rebuilt from Temporal history, and its comparison with the SQL one (pure)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, Field

from domain.ticket import TicketEvent

CauseKind = Literal["start", "update", "signal", "workflow"]


class Cause(BaseModel):
    """What made the workflow record an event.

    `start`: the workflow's start (id: the run); `update`: an Update (id: the Update id, the
    one the API derives from the caller's Idempotency-Key); `signal`: a Signal (id: the
    sender's signal id, empty when it gave none); `workflow`: the workflow itself (a timer,
    an SLA rung, an activity's or child's outcome).
    """

    kind: CauseKind
    id: str = ""
    name: str = Field(default="", description="The Update's or Signal's name.")


class HistoryEntry(BaseModel):
    """One recorded event, with the run that recorded it and its cause."""

    event: TicketEvent
    run_id: str
    cause: Cause


def merge_runs(runs: Iterable[Iterable[HistoryEntry]]) -> list[HistoryEntry]:
    """The entries of every run in seq order; an event recorded again keeps its first run."""
    merged: dict[int, HistoryEntry] = {}
    for run in runs:
        for entry in run:
            merged.setdefault(entry.event.seq, entry)
    return [merged[seq] for seq in sorted(merged)]


DifferenceKind = Literal["missing_in_sql", "missing_in_history", "changed"]


class Difference(BaseModel):
    """One event on which the SQL timeline and the Temporal history disagree."""

    ticket: str
    seq: int
    kind: DifferenceKind
    fields: list[str] = Field(default_factory=list, description="For `changed`: which parts.")


def _utc(at: datetime) -> datetime:
    # SQLite hands back naive datetimes; the projection writes UTC.
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def _changed(sql: TicketEvent, history: TicketEvent) -> list[str]:
    fields = [
        name for name in ("type", "actor", "data") if getattr(sql, name) != getattr(history, name)
    ]
    if _utc(sql.at) != _utc(history.at):
        fields.insert(1, "at")
    return fields


def reconcile(
    ticket: str, sql: Sequence[TicketEvent], history: Sequence[TicketEvent]
) -> list[Difference]:
    """Every event that is in one timeline only, or differs between them, in seq order."""
    in_sql = {e.seq: e for e in sql}
    in_history = {e.seq: e for e in history}
    found: list[Difference] = []
    for seq in sorted(in_sql.keys() | in_history.keys()):
        mine, theirs = in_sql.get(seq), in_history.get(seq)
        if mine is None:
            found.append(Difference(ticket=ticket, seq=seq, kind="missing_in_sql"))
        elif theirs is None:
            found.append(Difference(ticket=ticket, seq=seq, kind="missing_in_history"))
        elif fields := _changed(mine, theirs):
            found.append(Difference(ticket=ticket, seq=seq, kind="changed", fields=fields))
    return found
