"""Playbooks as a caller sees them, wherever they are shown (their list, a ticket, triage)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy.ext.asyncio import AsyncSession

from api.schemas import redactable
from api.ticket_access import ticket_views
from domain.ticket import Actor
from policies.access import AccessControl
from policies.playbooks import PLAYBOOK_SHAPE, redact_playbook
from policies.redaction import FieldView
from store import playbooks as store
from store import tickets as tickets_store
from store.models import PlaybookRow

# A ticket lists at most this many playbooks of its category, the newest first.
TICKET_PLAYBOOKS = 20


class PlaybookView(BaseModel):
    """A remediation playbook (redacted: all but id, category, kind and created_at are shown
    only to whoever may read the deliverable it came from, on its ticket)."""

    model_config = ConfigDict(json_schema_extra=redactable(*PLAYBOOK_SHAPE))

    id: int
    category: str
    kind: str
    created_at: datetime
    title: str | None = None
    language: str | None = None
    ticket_key: str | None = None
    stage: str | None = None
    deliverable: str | None = None
    version: int | None = None
    sha256: str | None = None
    size: int | None = None
    media_type: str | None = None
    file_name: str | None = None
    created_by: str | None = None


class PlaybookDetail(PlaybookView):
    """A playbook with its content, as UTF-8 text (absent when hidden, too large or not text)."""

    content: str | None = None


def playbook_document(row: PlaybookRow) -> dict[str, Any]:
    """Every column of the row, before redaction."""
    return {c.key: getattr(row, c.key) for c in PlaybookRow.__table__.columns}


async def source_views(
    *, session: AsyncSession, access: AccessControl, actor: Actor, rows: list[PlaybookRow]
) -> dict[str, FieldView]:
    """The caller's view of each playbook's source ticket that still has a row."""
    tickets = await tickets_store.get_tickets(
        session=session, keys=sorted({r.ticket_key for r in rows})
    )
    views = await ticket_views(session=session, access=access, actor=actor, rows=tickets)
    return {t.key: v for t, v in zip(tickets, views, strict=True)}


async def shown_playbooks(
    *, session: AsyncSession, access: AccessControl, actor: Actor, rows: list[PlaybookRow]
) -> list[dict[str, Any]]:
    """The playbooks as this caller may see them, each by their view of its source ticket."""
    views = await source_views(session=session, access=access, actor=actor, rows=rows)
    return [redact_playbook(playbook_document(r), views.get(r.ticket_key)) for r in rows]


async def category_playbooks(
    *, session: AsyncSession, access: AccessControl, actor: Actor, category: str
) -> list[dict[str, Any]]:
    """The newest playbooks of a ticket's category, as this caller may see them."""
    rows = await store.list_playbooks(session=session, category=category, limit=TICKET_PLAYBOOKS)
    return await shown_playbooks(session=session, access=access, actor=actor, rows=rows)
