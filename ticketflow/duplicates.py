"""Duplicate check at creation: is this report a repeat of an open ticket close in time?"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.definitions import ProcessDefinition
from domain.ticket import Actor, TicketStatus
from store.models import TicketRow
from triage.similarity import similarities

# Intake fields that name the same physical thing: a match on any makes tickets comparable.
ASSET_FIELDS = ("asset_id", "asset", "device_id", "device", "serial_number")
TEXT_FIELDS = ("title", "summary", "description", "details", "body")
MAX_CANDIDATES = 500


@dataclass(frozen=True)
class DuplicateMatch:
    """The open ticket a new report repeats, and how alike their texts are."""

    key: str
    similarity: float


def report_text(intake: dict[str, Any]) -> str:
    """The free text of an intake: title/summary and description."""
    return "\n".join(str(intake[f]) for f in TEXT_FIELDS if intake.get(f))


def _same_subject(intake: dict[str, Any], other: dict[str, Any]) -> bool:
    return any(intake.get(f) and intake.get(f) == other.get(f) for f in ASSET_FIELDS)


async def find_duplicate(
    *,
    session: AsyncSession,
    definition: ProcessDefinition,
    data: dict[str, Any],
    requester: Actor,
    now: datetime | None = None,
) -> DuplicateMatch | None:
    """The most similar open ticket of this process from the same requester, asset or device."""
    settings = definition.triage.duplicates if definition.triage else None
    if settings is None:
        return None
    since = (now or datetime.now(UTC)) - timedelta(hours=settings.window_hours)
    rows = await session.scalars(
        select(TicketRow)
        .where(
            TicketRow.definition_key == definition.key,
            TicketRow.status == TicketStatus.OPEN.value,
            TicketRow.created_at >= since,
        )
        .order_by(TicketRow.created_at.desc())
        .limit(MAX_CANDIDATES)
    )
    candidates = [r for r in rows if r.requester == requester.user or _same_subject(data, r.intake)]
    if not candidates:
        return None
    scores = similarities(report_text(data), [report_text(r.intake) for r in candidates])
    best = max(range(len(candidates)), key=scores.__getitem__)
    if scores[best] < settings.threshold:
        return None
    return DuplicateMatch(key=candidates[best].key, similarity=round(scores[best], 4))
