"""Recording a customer's feedback from the link `feedback_url` sent them: once per closed ticket.

Whatever is wrong with a token (forged, malformed, used, naming a ticket that does not exist
or is not closed), the answer is the same `None`, so a caller learns nothing of which it was.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from domain.feedback import SOLUTION_EVENTS, solution_of
from domain.ticket import TicketEvent, TicketStatus
from services.feedback_tokens import ticket_of_token
from store import feedback as store
from store.models import FeedbackRow
from store.tickets import get_ticket, list_events_of_types
from ticketflow.settings import Settings


@dataclass(frozen=True)
class Rating:
    """What the customer answered."""

    csat: int
    nps: int
    comment: str | None = None

    def fingerprint(self) -> str:
        """A hash of the answer, to tell a retry from a different answer."""
        canonical = json.dumps([self.csat, self.nps, self.comment])
        return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class Recorded:
    """The stored rating; `replayed` when a retry with the same Idempotency-Key found it.

    `customer_id` is the customer the ticket's intake names, whose words the comment is.
    """

    row: FeedbackRow
    replayed: bool = False
    customer_id: str | None = None


class IdempotencyKeyReused(Exception):
    """The Idempotency-Key recorded this ticket's rating with a different answer."""


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _replay(
    row: FeedbackRow | None, rating: Rating, idempotency_key: str | None
) -> Recorded | None:
    """The first answer again, for a retry of the request that recorded `row`."""
    if row is None or idempotency_key is None or row.idempotency_sha256 != _sha256(idempotency_key):
        return None
    if row.request_sha256 != rating.fingerprint():
        raise IdempotencyKeyReused(row.ticket_key)
    return Recorded(row=row, replayed=True)


async def record_feedback(
    *,
    session: AsyncSession,
    settings: Settings,
    token: str,
    rating: Rating,
    idempotency_key: str | None,
    now: datetime,
) -> Recorded | None:
    """Store the rating of the closed ticket `token` names, bound to its solution.

    None when the token may not record one now; the ticket's primary key in the feedback table
    is what makes it one-time, also for two requests at once.
    """
    ticket_key = ticket_of_token(settings=settings, token=token)
    ticket = None if ticket_key is None else await get_ticket(session=session, key=ticket_key)
    if ticket is None or ticket.status != TicketStatus.CLOSED:
        return None
    customer = ticket.intake.get("customer_id")
    customer_id = customer if isinstance(customer, str) else None
    rows = await list_events_of_types(session=session, key=ticket.key, types=SOLUTION_EVENTS)
    solution = solution_of([TicketEvent.model_validate(r, from_attributes=True) for r in rows])
    try:
        async with session.begin_nested():
            row = await store.insert_feedback(
                session=session,
                ticket_key=ticket.key,
                csat=rating.csat,
                nps=rating.nps,
                comment=rating.comment,
                solution=solution,
                given_at=now,
                idempotency_sha256=None if idempotency_key is None else _sha256(idempotency_key),
                request_sha256=rating.fingerprint(),
            )
    except IntegrityError:  # rated before, or by a concurrent request a moment ago
        existing = await store.get_feedback(session=session, ticket_key=ticket.key)
        return _replay(existing, rating, idempotency_key)
    return Recorded(row=row, customer_id=customer_id)
