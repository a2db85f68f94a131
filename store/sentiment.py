"""Sentiment tables: the model registry, customers' messages with their scores, and purges."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.customers import ConsentEvent, consents
from domain.sentiment import Scored, purge_due
from store.customers import consents_of
from store.models import SentimentModelRow, SentimentPurgeRow, SentimentRecordRow

ACTIVE = "active"
RETIRED = "retired"
CANDIDATE = "candidate"


# -- registry ------------------------------------------------------------------------------


async def next_model_version(*, session: AsyncSession) -> int:
    """The version number the next trained model gets (the bundled model is version 0)."""
    last = await session.scalar(select(func.max(SentimentModelRow.version)))
    return (last or 0) + 1


async def add_model(
    *,
    session: AsyncSession,
    version: int,
    path: str,
    sha256: str,
    training_size: int,
    metrics: dict[str, Any],
    now: datetime,
    note: str = "",
) -> SentimentModelRow:
    """Register a trained model as a candidate."""
    row = SentimentModelRow(
        version=version,
        created_at=now,
        status=CANDIDATE,
        path=path,
        sha256=sha256,
        training_size=training_size,
        metrics=metrics,
        note=note,
    )
    session.add(row)
    await session.flush()
    return row


async def get_active_model(*, session: AsyncSession) -> SentimentModelRow | None:
    """The live trained model, if any (without one the bundled model serves)."""
    query = select(SentimentModelRow).where(SentimentModelRow.status == ACTIVE)
    return await session.scalar(query)


async def promote_model(*, session: AsyncSession, version: int) -> SentimentModelRow:
    """Make `version` the live model; the previous live one is retired."""
    row = await session.get(SentimentModelRow, version)
    if row is None:
        raise LookupError(f"no sentiment model version {version}")
    current = await get_active_model(session=session)
    if current is not None and current.version != version:
        current.status = RETIRED
    row.status = ACTIVE
    await session.flush()
    return row


async def list_models(*, session: AsyncSession) -> list[SentimentModelRow]:
    """Every registered version, newest first."""
    query = select(SentimentModelRow).order_by(SentimentModelRow.version.desc())
    return list(await session.scalars(query))


# -- records -------------------------------------------------------------------------------


async def add_record(
    *,
    session: AsyncSession,
    customer_id: str,
    ticket_key: str | None,
    source: str,
    text: str,
    taken_at: datetime,
) -> SentimentRecordRow:
    """Keep a customer's message until it is scored, and then with its score."""
    row = SentimentRecordRow(
        customer_id=customer_id,
        ticket_key=ticket_key,
        source=source,
        text=text,
        taken_at=taken_at,
        purge_at=purge_due(taken_at),
    )
    session.add(row)
    await session.flush()
    return row


async def get_record(*, session: AsyncSession, record_id: int) -> SentimentRecordRow | None:
    """One record by id."""
    return await session.get(SentimentRecordRow, record_id)


def set_score(
    row: SentimentRecordRow, *, scored: Scored, model_version: int, now: datetime
) -> None:
    """Store the score with the text it came from."""
    row.label, row.confidence = scored.label, scored.confidence
    row.probabilities = dict(scored.probabilities)
    row.model_version, row.scored_at = model_version, now


async def records_of(
    *, session: AsyncSession, customer_id: str, ticket_key: str | None = None
) -> list[SentimentRecordRow]:
    """A customer's records (those of one ticket, when given), oldest first."""
    query = select(SentimentRecordRow).where(SentimentRecordRow.customer_id == customer_id)
    if ticket_key is not None:
        query = query.where(SentimentRecordRow.ticket_key == ticket_key)
    rows = await session.scalars(query.order_by(SentimentRecordRow.id))
    return list(rows)


async def purge_records(
    *,
    session: AsyncSession,
    customer_id: str,
    record_ids: list[int] | None,
    reason: str,
    now: datetime,
) -> SentimentPurgeRow:
    """Delete these records of a customer (None: all of theirs) and record the purge."""
    query = select(SentimentRecordRow).where(SentimentRecordRow.customer_id == customer_id)
    if record_ids is not None:
        query = query.where(SentimentRecordRow.id.in_(record_ids))
    rows = list(await session.scalars(query.order_by(SentimentRecordRow.id)))
    if rows:
        await session.execute(
            delete(SentimentRecordRow).where(SentimentRecordRow.id.in_([r.id for r in rows]))
        )
    purge = SentimentPurgeRow(
        customer_id=customer_id,
        reason=reason,
        at=now,
        deleted=len(rows),
        scored=sum(r.scored_at is not None for r in rows),
        records={
            "ids": [r.id for r in rows],
            "taken_at": [r.taken_at.isoformat() for r in rows],
        },
    )
    session.add(purge)
    await session.flush()
    return purge


async def purges_of(*, session: AsyncSession, customer_id: str) -> list[SentimentPurgeRow]:
    """Every purge of a customer's records, oldest first."""
    query = select(SentimentPurgeRow).where(SentimentPurgeRow.customer_id == customer_id)
    return list(await session.scalars(query.order_by(SentimentPurgeRow.id)))


async def consents_to_analysis(*, session: AsyncSession, customer_id: str, at: datetime) -> bool:
    """Whether the customer's ledger shows consent to sentiment analysis in force at `at`."""
    events = []
    for grant, revocation in await consents_of(session=session, customer_id=customer_id):
        if grant.purpose != "sentiment_analysis":
            continue
        events.append(ConsentEvent(purpose="sentiment_analysis", kind="granted", at=grant.given_at))
        if revocation is not None:
            events.append(
                ConsentEvent(purpose="sentiment_analysis", kind="revoked", at=revocation.revoked_at)
            )
    return consents(events, "sentiment_analysis", at)


async def delete_record(*, session: AsyncSession, record_id: int) -> None:
    """Delete a record no workflow was told of (its submission failed)."""
    await session.execute(delete(SentimentRecordRow).where(SentimentRecordRow.id == record_id))
