"""Triage activities: predict a ticket's team with the live model; retrain on labelled history."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from domain.triage import (
    TRAIN_ACTIVITY,
    TRIAGE_ACTIVITY,
    RetrainInput,
    RetrainResult,
    TriageResult,
    TriageTicket,
)
from store import triage as triage_store
from triage.artifacts import (
    ModelUnavailable,
    artifact_name,
    artifact_path,
    load_model,
    save_model,
)
from triage.model import TriageModel
from triage.training import Example, describe_features, train_candidate

log = logging.getLogger("ticketflow.triage")


class TriageActivities:
    """Holds the session factory, the data dir with the artifacts, and the loaded model."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], data_dir: Path) -> None:
        self._sessions = sessions
        self._data_dir = data_dir
        self._loaded: tuple[int, str, TriageModel] | None = None

    async def _live_model(self) -> tuple[int, TriageModel] | None:
        """The registry's live model, loaded once per version and checked against its SHA-256."""
        async with self._sessions() as session:
            row = await triage_store.get_active_model(session=session)
        if row is None:
            return None
        if self._loaded is None or self._loaded[:2] != (row.version, row.sha256):
            model = await asyncio.to_thread(load_model, self._data_dir / row.path, row.sha256)
            self._loaded = (row.version, row.sha256, model)
        return row.version, self._loaded[2]

    @activity.defn(name=TRIAGE_ACTIVITY)
    async def triage_ticket(self, ticket: TriageTicket) -> TriageResult:
        """Predict team, category and priority; without a usable model, say why instead."""
        try:
            live = await self._live_model()
        except ModelUnavailable as exc:
            log.error("triage model unusable, ticket %s goes to manual triage: %s", ticket.key, exc)
            return TriageResult(error=str(exc))
        if live is None:
            return TriageResult(error="no trained triage model yet")
        version, model = live
        result = await asyncio.to_thread(model.predict, ticket)
        result.model_version = version
        return result

    @activity.defn(name=TRAIN_ACTIVITY)
    async def train_triage_model(self, request: RetrainInput) -> RetrainResult:
        """Train a candidate on labelled history; promote it only if it beats the live model."""
        async with self._sessions() as session:
            rows = await triage_store.labelled_tickets(session=session)
        examples = [Example(t, team, category, priority) for t, team, category, priority in rows]
        if len(examples) < request.min_labels or len({e.team for e in examples}) < 2:
            return RetrainResult(
                labels=len(examples),
                detail=f"{len(examples)} labelled tickets; need {request.min_labels} "
                "over at least two teams",
            )
        try:
            live = await self._live_model()
        except ModelUnavailable as exc:
            log.error("live triage model unusable, the candidate is compared with none: %s", exc)
            live = None
        return await register_run(
            sessions=self._sessions,
            data_dir=self._data_dir,
            examples=examples,
            test_size=request.test_size,
            current=live,
            note="retrained on labelled history",
        )


async def register_run(
    *,
    sessions: async_sessionmaker[AsyncSession],
    data_dir: Path,
    examples: list[Example],
    test_size: float,
    current: tuple[int, TriageModel] | None,
    note: str,
) -> RetrainResult:
    """Train, save the artifact, register it, and promote it if it beats `current`."""
    run = await asyncio.to_thread(
        train_candidate, examples, test_size=test_size, current=current[1] if current else None
    )
    accuracy = run.scores["accuracy"]
    current_accuracy = run.current_scores["accuracy"] if run.current_scores else None
    better = current_accuracy is None or accuracy > current_accuracy
    async with sessions() as session, session.begin():
        version = await triage_store.next_model_version(session=session)
        path = artifact_path(data_dir, version)
        sha256 = await asyncio.to_thread(save_model, run.model, path)
        await triage_store.add_model(
            session=session,
            version=version,
            path=artifact_name(version),
            sha256=sha256,
            training_size=run.training_size,
            metrics={**run.scores, "train_seconds": round(run.seconds, 2)},
            features=describe_features(run.model),
            now=datetime.now(UTC),
            note=note,
        )
        if better:
            await triage_store.promote_model(session=session, version=version)
    log.info(
        "triage model v%d: accuracy %.4f vs live %s, %s",
        version,
        accuracy,
        f"{current_accuracy:.4f}" if current_accuracy is not None else "none",
        "promoted" if better else "kept as candidate",
    )
    return RetrainResult(
        trained=True,
        promoted=better,
        version=version,
        accuracy=accuracy,
        current_accuracy=current_accuracy,
        labels=len(examples),
        detail="promoted" if better else "not better than the live model on the held-out split",
    )
