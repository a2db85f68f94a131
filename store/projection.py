"""Write one transition of a ticket: ticket row, task rows and new events, idempotently."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from domain.ticket import TicketEvent, TicketSnapshot
from store.models import TaskRow, TicketEventRow, TicketRow


async def apply_projection(
    *, session: AsyncSession, ticket: TicketSnapshot, events: list[TicketEvent]
) -> int:
    """Upsert the ticket and its tasks unless a newer snapshot is stored; insert unseen events.

    Returns how many events were new. Calls may arrive twice (activity retries) or out of
    order (concurrent Updates); `last_seq` keeps the newest snapshot and the event primary
    key keeps each event once.
    """
    values = {
        "definition_key": ticket.definition_key,
        "definition_version": ticket.definition_version,
        "department": ticket.department,
        "title": ticket.title,
        "status": ticket.status.value,
        "requester": ticket.requester,
        "intake": ticket.intake,
        "created_at": ticket.created_at,
        "updated_at": ticket.updated_at,
        "resolved_at": ticket.resolved_at,
        "closed_at": ticket.closed_at,
        "last_seq": ticket.last_seq,
    }
    # The last_seq guard sits in the UPDATE itself: SQLite ignores FOR UPDATE, so a read-then-
    # write would let an older snapshot that read first overwrite a newer one committed since.
    updated = await session.scalar(
        update(TicketRow)
        .where(TicketRow.key == ticket.key, TicketRow.last_seq < ticket.last_seq)
        .values(values)
        .returning(TicketRow.key)
    )
    newer = updated is not None
    if not newer and await session.get(TicketRow, ticket.key) is None:
        session.add(TicketRow(key=ticket.key, **values))
        await session.flush()
        newer = True
    if newer:
        for task in ticket.tasks:
            await session.merge(
                TaskRow(
                    id=task.id,
                    ticket_key=ticket.key,
                    stage_key=task.stage_key,
                    title=task.title,
                    group_name=task.group,
                    status=task.status.value,
                    assignee=task.assignee,
                    round=task.round,
                    opened_at=task.opened_at,
                    claimed_at=task.claimed_at,
                    completed_at=task.completed_at,
                    completed_by=task.completed_by,
                    data=task.data,
                )
            )
    seqs = [e.seq for e in events]
    known = set(
        (
            await session.scalars(
                select(TicketEventRow.seq).where(
                    TicketEventRow.ticket_key == ticket.key, TicketEventRow.seq.in_(seqs)
                )
            )
        ).all()
    )
    new = [e for e in events if e.seq not in known]
    session.add_all(
        TicketEventRow(
            ticket_key=ticket.key, seq=e.seq, type=e.type, at=e.at, actor=e.actor, data=e.data
        )
        for e in new
    )
    return len(new)
