"""Deliverable versions as rows: written by the projection, read by the deliverables API."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from domain.ticket import TicketEvent
from store.models import DeliverableVersionRow

ATTACHED = "deliverable_attached"


async def record_versions(*, session: AsyncSession, key: str, events: list[TicketEvent]) -> None:
    """Insert a row per artifact version these events attached (a repeat is kept once)."""
    rows = []
    for event in events:
        name = event.data.get("deliverable")
        described = event.data.get("attached", {}).get(name)
        if event.type != ATTACHED or not isinstance(described, dict):
            continue
        rows.append(
            {
                "ticket_key": key,
                "stage": event.data["stage"],
                "deliverable": name,
                "version": described["version"],
                "sha256": described["sha256"],
                "size": described["size"],
                "media_type": described["media_type"],
                "file_name": described["file_name"],
                "author": event.actor,
                "created_at": event.at,
                "value": described.get("value"),
            }
        )
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    await session.execute(insert(DeliverableVersionRow).on_conflict_do_nothing(), rows)


async def list_versions(
    *, session: AsyncSession, key: str, stage: str, deliverable: str
) -> list[DeliverableVersionRow]:
    """A deliverable's versions, oldest first."""
    result = await session.scalars(
        select(DeliverableVersionRow)
        .where(
            DeliverableVersionRow.ticket_key == key,
            DeliverableVersionRow.stage == stage,
            DeliverableVersionRow.deliverable == deliverable,
        )
        .order_by(DeliverableVersionRow.version)
    )
    return list(result.all())


async def list_ticket_versions(*, session: AsyncSession, key: str) -> list[DeliverableVersionRow]:
    """Every version of every deliverable of a ticket, in the order they were attached."""
    result = await session.scalars(
        select(DeliverableVersionRow)
        .where(DeliverableVersionRow.ticket_key == key)
        .order_by(
            DeliverableVersionRow.created_at,
            DeliverableVersionRow.stage,
            DeliverableVersionRow.deliverable,
            DeliverableVersionRow.version,
        )
    )
    return list(result.all())


async def get_version(
    *, session: AsyncSession, key: str, stage: str, deliverable: str, version: int
) -> DeliverableVersionRow | None:
    """One version of a deliverable, or None."""
    return await session.get(DeliverableVersionRow, (key, stage, deliverable, version))
