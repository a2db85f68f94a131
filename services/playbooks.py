"""Promoting a resolved ticket's script or configuration to a remediation playbook."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from domain.deliverables import DeliverableSpec
from domain.recurrence import ticket_category
from domain.ticket import TicketStatus
from store import playbooks as store
from store.models import DeliverableVersionRow, PlaybookRow, TicketRow

# What a playbook can be: something one can run or apply again.
PLAYBOOK_KINDS = frozenset({"code", "config"})
PROMOTABLE = frozenset({TicketStatus.RESOLVED.value, TicketStatus.CLOSED.value})


class PlaybookConflict(Exception):
    """The ticket, the deliverable or the version cannot become a playbook (as things stand)."""


def promotion_conflict(*, ticket: TicketRow) -> str | None:
    """Why this ticket's deliverables cannot be promoted yet (None: they can)."""
    if ticket.status not in PROMOTABLE:
        return (
            f"ticket {ticket.key} is {ticket.status}: "
            "only a resolved or closed ticket's fix becomes a playbook"
        )
    return None


async def promote(
    *,
    session: AsyncSession,
    ticket: TicketRow,
    spec: DeliverableSpec,
    version: DeliverableVersionRow,
    title: str,
    created_by: str,
    now: datetime,
) -> PlaybookRow:
    """Record the version as a playbook of the ticket's category; PlaybookConflict if it
    cannot be one (the ticket not resolved or closed, not code or config, promoted already)."""
    why = promotion_conflict(ticket=ticket)
    if why is not None:
        raise PlaybookConflict(why)
    if spec.kind not in PLAYBOOK_KINDS:
        raise PlaybookConflict(
            f"deliverable {spec.key!r} is a {spec.kind}: only code or config is a playbook"
        )
    earlier = await store.promoted_from(
        session=session,
        key=version.ticket_key,
        stage=version.stage,
        deliverable=version.deliverable,
        version=version.version,
    )
    if earlier is not None:
        raise PlaybookConflict(f"this version is playbook {earlier.id} already")
    return await store.add_playbook(
        session=session,
        category=ticket_category(ticket.category, ticket.definition_key),
        title=title,
        kind=spec.kind,
        language=spec.language,
        version=version,
        created_by=created_by,
        now=now,
    )
