"""Reaching a ticket on the caller's behalf: who may see it, and sending it a change."""

from __future__ import annotations

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import Caller
from api.problems import ProblemError
from api.schemas import TransitionView
from api.workflow_calls import send_update, transition_view
from domain.ticket import Actor
from policies.roles import can_read_all, may_change_ticket
from store import tickets as store
from store.models import TicketRow


async def readable_ticket(*, session: AsyncSession, key: str, actor: Actor) -> TicketRow:
    """The ticket's row if it exists and the caller may see it, else 404."""
    row = await store.get_ticket(session=session, key=key)
    if row is None or not (can_read_all(actor.role) or row.requester == actor.user):
        raise ProblemError(404, f"no ticket {key}")
    return row


async def change_ticket(
    caller: Caller, key: str, update: str, payload: BaseModel, *, ticket: TicketRow | None = None
) -> TransitionView:
    """Send an Update to a ticket the caller can see and may change (`ticket`: already read)."""
    row = ticket or await readable_ticket(session=caller.session, key=key, actor=caller.actor)
    if not may_change_ticket(caller.actor.role, own=row.requester == caller.actor.user):
        raise ProblemError(403, f"role {caller.actor.role!r} may not change this ticket")
    await caller.session.rollback()  # release the read before a possibly long Update
    result = await send_update(
        client=caller.temporal,
        key=key,
        update=update,
        payload=payload,
        request_id=caller.request_id,
    )
    return transition_view(result)
