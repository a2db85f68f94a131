"""The participants of tickets (domain.participation), kept from their events, and queries."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.participation import PAUSE_STARTED, Participant, participants_of
from store.models import TicketEventRow, TicketParticipantRow


def participant_rows(
    key: str, events: Iterable[tuple[str, str, Mapping[str, Any]]]
) -> list[dict[str, str]]:
    """Rows for the participants table from (type, actor, data) events, each once."""
    found: set[Participant] = set()
    for type_, actor, data in events:
        found |= participants_of(type_, actor, data)
    return [{"ticket_key": key, "kind": p.kind, "name": p.name} for p in sorted(found)]


async def ticket_participants(
    *, session: AsyncSession, keys: list[str]
) -> dict[str, list[Participant]]:
    """Every participant of each of these tickets."""
    found: dict[str, list[Participant]] = {key: [] for key in keys}
    if keys:
        rows = await session.execute(
            select(
                TicketParticipantRow.ticket_key,
                TicketParticipantRow.kind,
                TicketParticipantRow.name,
            ).where(TicketParticipantRow.ticket_key.in_(keys))
        )
        for key, kind, name in rows:
            found[key].append(Participant(kind, name))
    return found


async def current_pauser(*, session: AsyncSession, key: str) -> str | None:
    """Who started the ticket's latest wait (whether or not it still waits), if anyone did."""
    actor: str | None = await session.scalar(
        select(TicketEventRow.actor)
        .where(TicketEventRow.ticket_key == key, TicketEventRow.type == PAUSE_STARTED)
        .order_by(TicketEventRow.seq.desc())
        .limit(1)
    )
    return actor
