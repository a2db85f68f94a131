"""Sentiment activities: score a customer's stored message (with consent), purge records."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from domain.sentiment import (
    PURGE_ACTIVITY,
    SCORE_ACTIVITY,
    PurgeInput,
    PurgeResult,
    ScoreInput,
    ScoreResult,
    proposes_expedite,
)
from sentiment.artifacts import (
    ModelUnavailable,
    artifact_name,
    load_bundled,
    load_model,
    save_model,
)
from sentiment.corpus import Labelled
from sentiment.model import SentimentModel
from sentiment.training import train_candidate
from store import sentiment as store

log = logging.getLogger("ticketflow.sentiment")
BUNDLED_VERSION = 0


class SentimentActivities:
    """Holds the session factory, the data dir with the artifacts, and the loaded model."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], data_dir: Path) -> None:
        self._sessions = sessions
        self._data_dir = data_dir
        self._loaded: tuple[int, str, SentimentModel] | None = None

    async def live_model(self) -> tuple[int, SentimentModel]:
        """The registry's live model (checked against its SHA-256), else the bundled one."""
        async with self._sessions() as session:
            row = await store.get_active_model(session=session)
        wanted = (row.version, row.sha256) if row is not None else (BUNDLED_VERSION, "")
        if self._loaded is None or self._loaded[:2] != wanted:
            model = None
            if row is not None:
                try:
                    model = await asyncio.to_thread(
                        load_model, self._data_dir / row.path, row.sha256
                    )
                except ModelUnavailable as exc:
                    log.error(
                        "sentiment model v%d unusable, the bundled one serves: %s", row.version, exc
                    )
                    wanted = (BUNDLED_VERSION, "")
            if model is None:
                model = await asyncio.to_thread(load_bundled)
            self._loaded = (*wanted, model)
        return self._loaded[0], self._loaded[2]

    @activity.defn(name=SCORE_ACTIVITY)
    async def score_message(self, request: ScoreInput) -> ScoreResult:
        """Score a stored message while the customer consents; without consent, delete it."""
        unscored = ScoreResult(scored=False, record_id=request.record_id)
        async with self._sessions() as session, session.begin():
            row = await store.get_record(session=session, record_id=request.record_id)
            if row is None:
                return unscored  # purged meanwhile
            consenting = await store.consents_to_analysis(
                session=session, customer_id=request.customer_id, at=datetime.now(UTC)
            )
            if not consenting:
                await store.purge_records(
                    session=session,
                    customer_id=request.customer_id,
                    record_ids=[row.id],
                    reason="no_consent",
                    now=datetime.now(UTC),
                )
                return unscored
            text, ticket_key = row.text, row.ticket_key
        version, model = await self.live_model()
        scored = await asyncio.to_thread(model.score, text)
        # Consent is checked again where the score is written: a revocation (and its purge)
        # may have landed while the model read the text.
        async with self._sessions() as session, session.begin():
            row = await store.get_record(session=session, record_id=request.record_id)
            now = datetime.now(UTC)
            if row is None or not await store.consents_to_analysis(
                session=session, customer_id=request.customer_id, at=now
            ):
                return unscored
            store.set_score(row, scored=scored, model_version=version, now=now)
        return ScoreResult(
            scored=True,
            record_id=request.record_id,
            ticket_key=ticket_key,
            expedite=ticket_key is not None
            and proposes_expedite(scored.label, scored.confidence, request.expedite_threshold),
        )

    @activity.defn(name=PURGE_ACTIVITY)
    async def purge(self, request: PurgeInput) -> PurgeResult:
        """Delete records and their scores, and record what was deleted (never the content)."""
        async with self._sessions() as session, session.begin():
            row = await store.purge_records(
                session=session,
                customer_id=request.customer_id,
                record_ids=None if request.everything else request.record_ids,
                reason=request.reason,
                now=request.at,
            )
        return PurgeResult(purge_id=row.id, deleted=row.deleted)


@dataclass(frozen=True)
class Registered:
    """A trained candidate as registered: its version, scores, and whether it went live."""

    version: int
    promoted: bool
    scores: dict[str, Any]
    current_scores: dict[str, Any]


async def register_run(
    *,
    sessions: async_sessionmaker[AsyncSession],
    data_dir: Path,
    examples: list[Labelled],
    test_size: float,
    current: SentimentModel,
    note: str,
) -> Registered:
    """Train (in a thread), save the artifact, register it, and promote it if it beats
    `current` (the live or bundled model) on the same held-apart rows."""
    run = await asyncio.to_thread(train_candidate, examples, test_size=test_size, current=current)
    assert run.current_scores is not None  # a current model is always given
    better = run.scores["accuracy"] > run.current_scores["accuracy"]
    async with sessions() as session, session.begin():
        version = await store.next_model_version(session=session)
        sha256 = await asyncio.to_thread(save_model, run.model, data_dir / artifact_name(version))
        await store.add_model(
            session=session,
            version=version,
            path=artifact_name(version),
            sha256=sha256,
            training_size=run.training_size,
            metrics={**run.scores, "train_seconds": round(run.seconds, 2)},
            now=datetime.now(UTC),
            note=note,
        )
        if better:
            await store.promote_model(session=session, version=version)
    return Registered(
        version=version, promoted=better, scores=run.scores, current_scores=run.current_scores
    )
