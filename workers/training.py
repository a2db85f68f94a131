"""The training worker: triage retraining on its own task queue, away from the tickets."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.worker import Worker

from activities.triage import TriageActivities
from workflows.triage_retrain import TriageRetrainWorkflow

WORKFLOWS = [TriageRetrainWorkflow]


def build_training_worker(
    *,
    client: Client,
    task_queue: str,
    sessions: async_sessionmaker[AsyncSession],
    data_dir: Path,
) -> Worker:
    """A worker serving retraining only; its minutes of CPU never delay a ticket's tasks."""
    triage = TriageActivities(sessions, data_dir)
    return Worker(
        client,
        task_queue=task_queue,
        workflows=WORKFLOWS,
        activities=[triage.train_triage_model],
    )
