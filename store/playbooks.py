"""Remediation playbooks: promoted deliverable versions, by category."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import DeliverableVersionRow, PlaybookRow


async def add_playbook(
    *,
    session: AsyncSession,
    category: str,
    title: str,
    kind: str,
    language: str | None,
    version: DeliverableVersionRow,
    created_by: str,
    now: datetime,
) -> PlaybookRow:
    """Record a deliverable version as a playbook of `category` (its id assigned on flush)."""
    row = PlaybookRow(
        category=category,
        title=title,
        ticket_key=version.ticket_key,
        stage=version.stage,
        deliverable=version.deliverable,
        version=version.version,
        kind=kind,
        language=language,
        sha256=version.sha256,
        size=version.size,
        media_type=version.media_type,
        file_name=version.file_name,
        created_at=now,
        created_by=created_by,
    )
    session.add(row)
    await session.flush()
    return row


async def get_playbook(*, session: AsyncSession, playbook_id: int) -> PlaybookRow | None:
    """One playbook, or None."""
    return await session.get(PlaybookRow, playbook_id)


async def promoted_from(
    *, session: AsyncSession, key: str, stage: str, deliverable: str, version: int
) -> PlaybookRow | None:
    """The playbook this deliverable version already is, if any."""
    return await session.scalar(
        select(PlaybookRow).where(
            PlaybookRow.ticket_key == key,
            PlaybookRow.stage == stage,
            PlaybookRow.deliverable == deliverable,
            PlaybookRow.version == version,
        )
    )


async def list_playbooks(
    *,
    session: AsyncSession,
    category: str | None = None,
    limit: int = 50,
    before: int | None = None,
) -> list[PlaybookRow]:
    """Playbooks newest first, of one category if given, with ids below `before` if given."""
    query = select(PlaybookRow).order_by(PlaybookRow.id.desc()).limit(limit)
    if category is not None:
        query = query.where(PlaybookRow.category == category)
    if before is not None:
        query = query.where(PlaybookRow.id < before)
    return list(await session.scalars(query))
