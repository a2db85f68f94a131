"""Triage activities: predict a ticket's team with the live model; retrain on labelled history."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from domain.triage import (
    DEFAULT_FOLDS,
    DEFAULT_SEARCH_SECONDS,
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
from triage.candidates import CANDIDATES, Candidate
from triage.model import TriageModel
from triage.selection import Progress, no_progress
from triage.training import Example, describe_features, train_selected

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
            folds=request.folds,
            budget_seconds=request.budget_seconds,
            current=live,
            note="retrained on labelled history",
        )


async def register_run(
    *,
    sessions: async_sessionmaker[AsyncSession],
    data_dir: Path,
    examples: list[Example],
    current: tuple[int, TriageModel] | None,
    note: str,
    folds: int = DEFAULT_FOLDS,
    budget_seconds: float = DEFAULT_SEARCH_SECONDS,
    candidates: Sequence[Candidate] = CANDIDATES,
    progress: Progress = no_progress,
) -> RetrainResult:
    """Choose and train a model, save the artifact, register it with every candidate's
    cross-validated scores, and promote it if it beats `current` on the same folds."""
    # Minutes of CPU: in a thread, so the event loop (and the worker's heartbeats) run on.
    run = await asyncio.to_thread(
        partial(
            train_selected,
            examples,
            folds=folds,
            budget_seconds=budget_seconds,
            current=current[1] if current else None,
            candidates=candidates,
            progress=progress,
        )
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
            metrics={
                **run.scores,
                "train_seconds": round(run.seconds, 2),
                "selection": run.selection,
                "current": _current_summary(current, run.current_scores),
            },
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
        detail="promoted" if better else "not better than the live model on the same folds",
        candidate=run.selection["winner"],
    )


def _current_summary(
    current: tuple[int, TriageModel] | None, scores: dict[str, Any] | None
) -> dict[str, Any] | None:
    """The live model the candidate was compared with, and its scores on the same folds."""
    if current is None or scores is None:
        return None
    return {
        "version": current[0],
        "accuracy": round(scores["accuracy"], 4),
        "macro_f1": round(scores["macro_f1"], 4),
    }
