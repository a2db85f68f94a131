"""Problem records: upserted by the scan, decided by people, listed per ticket."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.problem_candidates import ProblemCandidate, TicketSymptoms
from store.models import ProblemRow, ProblemTicketRow, TicketRow

PROPOSED, CONFIRMED, DISMISSED = "proposed", "confirmed", "dismissed"
STATUSES = (PROPOSED, CONFIRMED, DISMISSED)


async def recent_symptoms(
    *, session: AsyncSession, since: datetime, asset_fields: Sequence[str]
) -> list[TicketSymptoms]:
    """What the scan reads of every ticket created since `since`."""
    rows = await session.execute(
        select(TicketRow.key, TicketRow.created_at, TicketRow.title, TicketRow.intake).where(
            TicketRow.created_at >= since
        )
    )
    return [
        TicketSymptoms(
            key=key,
            created_at=created_at,
            title=title,
            assets={
                name: value
                for name in asset_fields
                if isinstance(value := intake.get(name), str) and value
            },
        )
        for key, created_at, title, intake in rows
    ]


async def save_candidate(
    *, session: AsyncSession, candidate: ProblemCandidate, now: datetime
) -> str:
    """Store a new candidate, or refresh the record of its fingerprint; what happened.

    A proposed or confirmed record takes the scan's tickets (a confirmed problem keeps
    gathering them); a dismissed one is left as the person decided.
    """
    row = await session.scalar(
        select(ProblemRow).where(ProblemRow.fingerprint == candidate.fingerprint)
    )
    document = candidate.model_dump(mode="json")
    if row is None:
        row = ProblemRow(
            fingerprint=candidate.fingerprint,
            status=PROPOSED,
            candidate=document,
            proposed_at=now,
            updated_at=now,
        )
        session.add(row)
        await session.flush()
        outcome = "proposed"
    elif row.status == DISMISSED:
        return "dismissed"
    else:
        kept = set(row.candidate.get("tickets", []))
        document["tickets"] = sorted(kept | set(candidate.tickets))
        if document == row.candidate:
            return "unchanged"
        row.candidate, row.updated_at = document, now
        outcome = "updated"
    await session.execute(delete(ProblemTicketRow).where(ProblemTicketRow.problem_id == row.id))
    session.add_all(
        ProblemTicketRow(problem_id=row.id, ticket_key=key) for key in document["tickets"]
    )
    await session.flush()
    return outcome


async def list_problems(
    *, session: AsyncSession, status: str | None, after: int | None, limit: int
) -> list[ProblemRow]:
    """Problems newest first (by id), optionally of one status, after a cursor id."""
    query = select(ProblemRow).order_by(ProblemRow.id.desc()).limit(limit)
    if status is not None:
        query = query.where(ProblemRow.status == status)
    if after is not None:
        query = query.where(ProblemRow.id < after)
    return list((await session.scalars(query)).all())


async def get_problem(*, session: AsyncSession, problem_id: int) -> ProblemRow | None:
    """One problem record, or None."""
    return await session.get(ProblemRow, problem_id)


async def decide_problem(
    *, session: AsyncSession, row: ProblemRow, status: str, actor: str, reason: str, now: datetime
) -> None:
    """Record a person's decision on a proposed problem."""
    row.status, row.decided_by, row.decided_at, row.reason = status, actor, now, reason
    row.updated_at = now
    await session.flush()


async def problems_of_ticket(*, session: AsyncSession, key: str) -> list[ProblemRow]:
    """The confirmed problems linking this ticket."""
    rows = await session.scalars(
        select(ProblemRow)
        .join(ProblemTicketRow, ProblemTicketRow.problem_id == ProblemRow.id)
        .where(ProblemTicketRow.ticket_key == key, ProblemRow.status == CONFIRMED)
        .order_by(ProblemRow.id)
    )
    return list(rows.all())


async def confirmed_problems(*, session: AsyncSession, limit: int = 500) -> list[ProblemRow]:
    """The newest confirmed problems, which new tickets are matched against."""
    rows = await session.scalars(
        select(ProblemRow)
        .where(ProblemRow.status == CONFIRMED)
        .order_by(ProblemRow.id.desc())
        .limit(limit)
    )
    return list(rows.all())
