"""What-if over recorded tickets: another definition or calendar, no live ticket touched."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import cast

from sqlalchemy.ext.asyncio import AsyncSession

from domain.calendars import BusinessCalendar
from domain.sla import Priority
from domain.ticket import TicketEvent
from domain.whatif import (
    WhatIfReport,
    compare,
    initial_priority,
    recorded_outcome,
    report,
    rerun_outcome,
    with_calendar,
)
from store import calendars as calendars_store
from store import definitions as definitions_store
from store import tickets as store


class NotPublished(Exception):
    """The definition or calendar named is not published."""


def parse_ref(ref: str) -> tuple[str, int | None]:
    """`key@version` (or `key` for the latest) as its parts; ValueError for a bad version."""
    key, _, version = ref.partition("@")
    return key, int(version) if version else None


async def what_if(
    *,
    session: AsyncSession,
    definition: str,
    calendar: str | None,
    since: datetime,
    as_of: datetime,
) -> WhatIfReport:
    """Re-run the clocks and triage of the definition's tickets filed since `since`.

    Only tickets of the definition's key are re-run; clocks still running are judged at `as_of`.
    """
    key, version = parse_ref(definition)
    other = await definitions_store.published_definition(session=session, key=key, version=version)
    if other is None:
        raise NotPublished(f"no published definition {definition}")
    if calendar is not None:
        other = with_calendar(other, await _calendar(session, calendar))
    differences = []
    for ticket_key in await store.ticket_keys_since(session=session, since=since):
        row = await store.get_ticket(session=session, key=ticket_key)
        if row is None or row.definition_key != key:
            continue
        events = [
            TicketEvent(seq=e.seq, type=e.type, at=_utc(e.at), actor=e.actor, data=e.data)
            for e in await store.list_all_events(session=session, key=ticket_key)
        ]
        priority = initial_priority(events, cast(Priority, row.priority))
        rerun = rerun_outcome(events, other, priority, as_of)
        differences.append(compare(ticket_key, recorded_outcome(events), rerun))
    return report(differences)


def _utc(at: datetime) -> datetime:
    # SQLite hands back naive datetimes; the projection writes UTC.
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at


async def _calendar(session: AsyncSession, ref: str) -> BusinessCalendar:
    key, version = parse_ref(ref)
    row = await calendars_store.get_calendar(session=session, key=key, version=version)
    if row is None:
        raise NotPublished(f"no published calendar {ref}")
    return BusinessCalendar.model_validate(row.document)
