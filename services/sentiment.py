"""Sentiment of customers' messages: taken only with consent, scored by their workflow, purged.

`submit_message` is the one way a customer's words reach the sentiment analysis (ticket
intakes, comments and replies, feedback comments). It stores nothing and starts nothing
without consent to `sentiment_analysis` in force; with it, the text is stored and the
customer's workflow is told its id (never the text), and it scores the message in the worker,
checking consent again when it scores.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.service import RPCError

from domain.problems import Problem, Rejected
from domain.sentiment import (
    MAX_TEXT,
    MESSAGE_SIGNAL,
    REVOKED_SIGNAL,
    SENTIMENT_WORKFLOW,
    SOURCES,
    CustomerSentimentInput,
    RevokedInput,
    SentimentMessage,
    sentiment_workflow_id,
)
from store import customers as customer_store
from store import sentiment as store
from store import tickets as ticket_store
from store.models import SentimentPurgeRow, SentimentRecordRow
from ticketflow.settings import Settings

log = logging.getLogger("ticketflow.sentiment")


@dataclass(frozen=True)
class Submitted:
    """What became of a message: the record kept for scoring, or why nothing was kept."""

    record_id: int | None
    detail: str


def _start_input(settings: Settings, customer_id: str) -> CustomerSentimentInput:
    return CustomerSentimentInput(
        customer_id=customer_id,
        supervisor_group=settings.sentiment_supervisor_group,
        expedite_threshold=settings.sentiment_expedite_threshold,
    )


async def submit_message(
    *,
    sessions: async_sessionmaker[AsyncSession],
    client: Client,
    settings: Settings,
    customer_id: str,
    text: str,
    source: str,
    now: datetime,
    ticket_key: str | None = None,
) -> Submitted:
    """Take a customer's message for scoring while they consent to sentiment analysis.

    Without consent (or for an empty text) nothing is stored. Rejected for an unknown customer
    or source. The record is committed before the workflow is told, and deleted again when
    Temporal cannot be reached (then RPCError is raised).
    """
    if source not in SOURCES:
        raise Rejected([Problem(pointer="/source", detail=f"one of {', '.join(SOURCES)}")])
    text = text.strip()[:MAX_TEXT]
    async with sessions() as session, session.begin():
        if await customer_store.get_customer(session=session, customer_id=customer_id) is None:
            raise Rejected([Problem(pointer="/customer_id", detail=f"no customer {customer_id!r}")])
        if not text:
            return Submitted(None, "an empty message says nothing to score")
        if not await store.consents_to_analysis(session=session, customer_id=customer_id, at=now):
            return Submitted(None, "the customer does not consent to sentiment analysis")
        row = await store.add_record(
            session=session,
            customer_id=customer_id,
            ticket_key=ticket_key,
            source=source,
            text=text,
            taken_at=now,
        )
        record_id = row.id
    try:
        await client.start_workflow(
            SENTIMENT_WORKFLOW,
            _start_input(settings, customer_id),
            id=sentiment_workflow_id(customer_id),
            task_queue=settings.task_queue,
            start_signal=MESSAGE_SIGNAL,
            start_signal_args=[SentimentMessage(record_id=record_id, taken_at=now)],
        )
    except RPCError:
        # No workflow will ever purge a record it was not told of: it goes now.
        async with sessions() as session, session.begin():
            await store.delete_record(session=session, record_id=record_id)
        raise
    return Submitted(record_id, "taken for scoring")


async def submit_quietly(
    *,
    sessions: async_sessionmaker[AsyncSession],
    client: Client,
    settings: Settings,
    customer_id: str,
    text: str,
    source: str,
    now: datetime,
    ticket_key: str | None = None,
) -> None:
    """Submit a message that a ticket change carried; the change stands whatever happens."""
    try:
        await submit_message(
            sessions=sessions,
            client=client,
            settings=settings,
            customer_id=customer_id,
            text=text,
            source=source,
            now=now,
            ticket_key=ticket_key,
        )
    except (RPCError, Rejected) as exc:
        log.warning("message of customer %s not taken for sentiment: %s", customer_id, exc)


async def stop_sentiment(
    *, client: Client, settings: Settings, customer_id: str, at: datetime
) -> None:
    """Revocation: the customer's workflow cancels its scoring and purges all their records.

    A customer with no workflow running gets one that purges (and records the purge) anyway.
    """
    await client.start_workflow(
        SENTIMENT_WORKFLOW,
        _start_input(settings, customer_id),
        id=sentiment_workflow_id(customer_id),
        task_queue=settings.task_queue,
        start_signal=REVOKED_SIGNAL,
        start_signal_args=[RevokedInput(at=at)],
    )


def record_document(row: SentimentRecordRow) -> dict[str, Any]:
    """One record as the API shows it (then redacted by the caller's view)."""
    return {
        "id": row.id,
        "ticket_key": row.ticket_key,
        "source": row.source,
        "text": row.text,
        "taken_at": row.taken_at,
        "purge_at": row.purge_at,
        "label": row.label,
        "confidence": row.confidence,
        "probabilities": row.probabilities,
        "model_version": row.model_version,
        "scored_at": row.scored_at,
    }


def purge_document(row: SentimentPurgeRow) -> dict[str, Any]:
    """One purge as the API shows it: when, why, how many, which ids and times."""
    return {
        "id": row.id,
        "reason": row.reason,
        "at": row.at,
        "deleted": row.deleted,
        "scored": row.scored,
        "record_ids": list(row.records.get("ids", [])),
        "taken_at": list(row.records.get("taken_at", [])),
    }


async def customer_sentiment(*, session: AsyncSession, customer_id: str) -> dict[str, Any]:
    """A customer's records with their scores, and every purge of them."""
    records = await store.records_of(session=session, customer_id=customer_id)
    purges = await store.purges_of(session=session, customer_id=customer_id)
    return {
        "records": [record_document(r) for r in records],
        "purges": [purge_document(p) for p in purges],
    }


EXPEDITE_EVENTS = (
    "expedite_proposed",
    "expedite_confirmed",
    "expedite_declined",
    "expedite_withdrawn",
)
_DECIDED = {
    "expedite_confirmed": "confirmed",
    "expedite_declined": "declined",
    "expedite_withdrawn": "withdrawn",
}


async def proposals_of(*, session: AsyncSession, key: str) -> list[dict[str, Any]]:
    """A ticket's expedite proposals, read from its projected timeline, oldest first."""
    proposals: dict[str, dict[str, Any]] = {}
    events = await ticket_store.list_events_of_types(
        session=session, key=key, types=EXPEDITE_EVENTS
    )
    for event in events:
        data = event.data
        if event.type == "expedite_proposed":
            proposals[data["proposal"]] = {
                "id": data["proposal"],
                "status": "proposed",
                "proposed_at": event.at,
                "record": data.get("record"),
                "group": data.get("group"),
                "priority_from": data.get("priority_from"),
                "priority_to": data.get("priority_to"),
            }
        elif data.get("proposal") in proposals:
            proposals[data["proposal"]].update(
                status=_DECIDED[event.type],
                decided_at=event.at,
                decided_by=None if event.type == "expedite_withdrawn" else event.actor,
                reason=data.get("reason"),
            )
    return list(proposals.values())


async def submit_ticket_message(
    *,
    sessions: async_sessionmaker[AsyncSession],
    client: Client,
    settings: Settings,
    key: str,
    intake: dict[str, Any],
    text: object,
    source: str,
    now: datetime,
) -> None:
    """A ticket's intake description, comment or reply, if its intake names a customer."""
    customer_id = intake.get("customer_id")
    if isinstance(customer_id, str) and isinstance(text, str) and text.strip():
        await submit_quietly(
            sessions=sessions,
            client=client,
            settings=settings,
            customer_id=customer_id,
            text=text,
            source=source,
            now=now,
            ticket_key=key,
        )
