"""Notifications: the ones a caller may read, rendered for them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict
from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import AccessDep, ActorDep, SessionDep
from api.problems import ProblemError
from api.schemas import (
    DateTimeParam,
)
from api.ticket_access import ticket_views
from domain.ticket import Actor
from policies.access import AccessControl
from policies.authorization import (
    may_read_notifications_of,
)
from policies.notifications import (
    Stored,
    Text,
    about_subscription,
    render_notification,
    render_subscription_notice,
)
from store import tickets as tickets_store
from store.models import NotificationRow
from store.notifications import list_notifications


class NotificationView(BaseModel):
    """A notification to one recipient."""

    model_config = ConfigDict(from_attributes=True)

    ticket_key: str
    seq: int
    recipient: str
    subject: str
    body: str
    channel: str
    status: str
    created_at: datetime


router = APIRouter(tags=["sla"])


def _stored(row: NotificationRow) -> Stored:
    return Stored(ticket_key=row.ticket_key, subject=row.subject, body=row.body, parts=row.parts)


async def _rendered(
    session: AsyncSession, access: AccessControl, actor: Actor, rows: list[NotificationRow]
) -> list[NotificationView]:
    """The notifications among these this reader may see, each rendered with their view.

    One about a subscription concerns no ticket: its recipient (or an auditor) reads it whole.
    """
    keys = list(dict.fromkeys(r.ticket_key for r in rows if not about_subscription(_stored(r))))
    tickets = await tickets_store.get_tickets(session=session, keys=keys)
    views = await ticket_views(session=session, access=access, actor=actor, rows=tickets)
    by_key = {t.key: (t, v) for t, v in zip(tickets, views, strict=True)}
    shown = []
    for row in rows:
        stored = _stored(row)
        found = by_key.get(row.ticket_key)
        if about_subscription(stored):
            text: Text | None = render_subscription_notice(stored)
        elif found is None:
            continue
        else:
            ticket, view = found
            text = render_notification(stored, view, {"title": ticket.title})
        if text is not None:
            shown.append(
                NotificationView(
                    ticket_key=row.ticket_key,
                    seq=row.seq,
                    recipient=row.recipient,
                    subject=text.subject,
                    body=text.body,
                    channel=row.channel,
                    status=row.status,
                    created_at=row.created_at,
                )
            )
    return shown


@router.get("/notifications", response_model=list[NotificationView], tags=["notifications"])
async def notifications(
    session: SessionDep,
    actor: ActorDep,
    access: AccessDep,
    recipient: Annotated[str | None, Query(max_length=120)] = None,
    ticket: Annotated[str | None, Query(max_length=40)] = None,
    since: Annotated[DateTimeParam | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[NotificationView]:
    """Notifications for the caller (as user, department group and role), newest first.

    Auditors and admins may ask for any `recipient`; others only for one of their own. Each
    is rendered for the caller: only about tickets they may see (and whose SLA they may
    read), with the ticket's title only if they may read it. A subscription's owner is also
    told here when the subscription is paused (it names no ticket field).
    """
    own = [f"user:{actor.user}", f"group:{actor.department}", f"role:{actor.role}"]
    if recipient is not None and not may_read_notifications_of(actor.role, recipient, own):
        raise ProblemError(403, f"{actor.user} may not read notifications for {recipient}")
    shown: list[NotificationView] = []
    offset = 0
    # Pages are filled past notifications the caller may not see, so their number shows
    # nothing of tickets hidden from the caller.
    while len(shown) < limit:
        rows = await list_notifications(
            session=session,
            recipients=[recipient] if recipient else own,
            ticket_key=ticket,
            since=since,
            limit=limit,
            offset=offset,
        )
        shown += await _rendered(session, access, actor, rows)
        if len(rows) < limit:
            break
        offset += len(rows)
    return shown[:limit]
