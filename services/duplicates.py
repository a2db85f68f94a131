"""Duplicate check at creation: which open tickets close in time does this report repeat?"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.definitions import ProcessDefinition
from domain.ticket import Actor, TicketStatus
from domain.triage import MAX_TEXT_CHARS
from domain.triage_routing import description_field
from store.models import TicketRow
from triage.similarity import similarities

# Intake fields that name the same physical thing: a match on any makes tickets comparable.
ASSET_FIELDS = ("asset_id", "asset", "device_id", "device", "serial_number")
TEXT_FIELDS = ("title", "summary", "description", "details", "body")
TITLE_FIELDS = ("title", "summary")
MAX_TITLE_CHARS = 200
MAX_CANDIDATES = 500


@dataclass(frozen=True)
class DuplicateMatch:
    """An open ticket a new report repeats, and how alike their texts are."""

    key: str
    similarity: float
    row: TicketRow


def report_text(*, intake: dict[str, Any]) -> str:
    """The free text of an intake: title/summary and description."""
    return "\n".join(str(intake[f]) for f in TEXT_FIELDS if intake.get(f))


def report_excerpt(*, intake: dict[str, Any]) -> dict[str, str]:
    """What a merged report carries, keyed by the intake field each text came from.

    The title (or summary, as a ticket's title falls back to it) and the field the model
    reads as the description; nothing else of the reporter's intake.
    """
    # Text only, as the ticket's own title: an object's nested fields have sensitivities of
    # their own, which a string of the whole object would carry past.
    title = next((f for f in TITLE_FIELDS if isinstance(intake.get(f), str) and intake[f]), None)
    description = description_field(intake)
    excerpt = {title: str(intake[title])[:MAX_TITLE_CHARS]} if title else {}
    if description:
        excerpt[description] = str(intake[description])[:MAX_TEXT_CHARS]
    return excerpt


def _same_subject(intake: dict[str, Any], other: dict[str, Any]) -> bool:
    return any(intake.get(f) and intake.get(f) == other.get(f) for f in ASSET_FIELDS)


async def find_duplicates(
    *,
    session: AsyncSession,
    definition: ProcessDefinition,
    data: dict[str, Any],
    requester: Actor,
    now: datetime | None = None,
) -> list[DuplicateMatch]:
    """Open tickets of this process from the same requester, asset or device, close in time
    and similar enough, the most similar first."""
    settings = definition.triage.duplicates if definition.triage else None
    if settings is None:
        return []
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
    scores = similarities(
        report_text(intake=data), [report_text(intake=r.intake) for r in candidates]
    )
    matches = [
        DuplicateMatch(key=row.key, similarity=round(score, 4), row=row)
        for row, score in zip(candidates, scores, strict=True)
        if score >= settings.threshold
    ]
    # Stable: among equally similar tickets the newest (first listed) wins, as before.
    return sorted(matches, key=lambda m: -m.similarity)
