"""Confirming a ticket's projected events once its workflow's history is known to hold them.

A projection written inside a workflow task that may still be lost is tentative (see
store.projection); these move the ticket's watermarks and send out what they confirm.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Table, case, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from domain.ticket import TicketStatus
from store.models import Base, TicketEventRow, TicketRow
from store.notifications import confirm_notifications
from store.outbox import queue_outbound, take_outbox_turn

CLOSED_EVENT = TicketStatus.CLOSED.value


def _table(model: type[Base]) -> Table:
    table = model.__table__
    assert isinstance(table, Table)  # declarative models map one Table each
    return table


async def commit_marks(session: AsyncSession, key: str, through: int) -> tuple[int, int] | None:
    """Raise the ticket's `committed_seq` to `through`; its (confirmed, committed) seqs.

    The write comes first, so on SQLite this transaction holds the write lock before it reads.
    """
    tickets = _table(TicketRow)
    marks = await session.execute(
        update(tickets)
        .where(tickets.c.key == key)
        .values(
            committed_seq=case(
                (tickets.c.committed_seq < through, through), else_=tickets.c.committed_seq
            )
        )
        .returning(tickets.c.confirmed_seq, tickets.c.committed_seq)
    )
    row = marks.one_or_none()
    return None if row is None else (row[0], row[1])


async def advance(session: AsyncSession, key: str, confirmed: int, committed: int) -> int:
    """Confirm the written events past `confirmed`, up to `committed` and without a gap.

    Each confirmed event goes to the outbox (in seq order) and its notifications become
    visible; from then on only a committed write rewrites it. Returns the new `confirmed_seq`.
    """
    if committed <= confirmed:
        return confirmed
    events, tickets = _table(TicketEventRow), _table(TicketRow)
    rows = await session.execute(
        select(events.c.seq, events.c.type, events.c.at)
        .where(events.c.ticket_key == key, events.c.seq > confirmed)
        .order_by(events.c.seq)
    )
    ready: list[tuple[int, str, datetime]] = []
    after_close = False
    for seq, type_, at in rows:
        # A row not written yet (its projection is still on its way) holds back those above it.
        if seq != confirmed + len(ready) + 1:
            break
        # Past a committed close only writers after it number events (the close's own
        # projection, for the watch's start, and activities after the workflow's end), so
        # what follows the close is committed with it.
        if seq > committed and not after_close:
            break
        ready.append((seq, type_, at))
        after_close = after_close or type_ == CLOSED_EVENT
    if not ready:
        return confirmed
    through = ready[-1][0]
    await queue_outbound(session=session, key=key, events=ready)
    await session.execute(update(tickets).where(tickets.c.key == key).values(confirmed_seq=through))
    await confirm_notifications(session=session, key=key, through=through)
    return through


async def confirm_committed(*, session: AsyncSession, key: str, through: int) -> int:
    """Record that the ticket's history holds its events up to `through`; the confirmed seq.

    An Update's caller knows this once the Update answers: the answer is sent only after the
    workflow task that ran it is in the history, with every event up to the answer's seq.
    """
    await take_outbox_turn(session=session)
    marks = await commit_marks(session, key, through)
    if marks is None:
        return 0
    return await advance(session, key, *marks)
