"""The participants of tickets (domain.participation), kept from their events, and queries."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import false, literal, select, union
from sqlalchemy.ext.asyncio import AsyncSession

from domain.participation import PAUSE_STARTED, Participant
from store.models import TaskRow, TicketEventRow, TicketParticipantRow

TaskFact = tuple[str, str, bool]


def participant_rows(key: str, participants: Iterable[Participant]) -> list[dict[str, str]]:
    """Rows for the participants table, each participant once."""
    return [{"ticket_key": key, "kind": p.kind, "name": p.name} for p in sorted(set(participants))]


async def handling_facts(
    *, session: AsyncSession, keys: list[str]
) -> tuple[dict[str, list[TaskFact]], dict[str, list[Participant]]]:
    """Who handles and who handled each ticket, in one round trip.

    The first map holds (group, status, ever opened) of every task (all rounds), the second
    every participant. Every request that reads a ticket asks both, so they share one query.
    """
    tasks: dict[str, list[TaskFact]] = {key: [] for key in keys}
    found: dict[str, list[Participant]] = {key: [] for key in keys}
    if not keys:
        return tasks, found
    task_rows = select(
        TaskRow.ticket_key,
        literal("task").label("source"),
        TaskRow.group_name,
        TaskRow.status,
        TaskRow.opened_at.is_not(None).label("opened"),
    ).where(TaskRow.ticket_key.in_(keys))
    participant_rows_ = select(
        TicketParticipantRow.ticket_key,
        literal("participant").label("source"),
        TicketParticipantRow.kind,
        TicketParticipantRow.name,
        false().label("opened"),
    ).where(TicketParticipantRow.ticket_key.in_(keys))
    rows = await session.execute(union(task_rows, participant_rows_))
    for key, source, first, second, opened in rows:
        if source == "task":
            tasks[key].append((first, second, bool(opened)))
        else:
            found[key].append(Participant(first, second))
    return tasks, found


async def current_pauser(*, session: AsyncSession, key: str) -> str | None:
    """Who started the ticket's latest wait (whether or not it still waits), if anyone did."""
    actor: str | None = await session.scalar(
        select(TicketEventRow.actor)
        .where(TicketEventRow.ticket_key == key, TicketEventRow.type == PAUSE_STARTED)
        .order_by(TicketEventRow.seq.desc())
        .limit(1)
    )
    return actor
