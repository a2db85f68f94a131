"""The training worker: retraining and the problem scan on their own queue, away from tickets."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.worker import Worker

from activities.problem_scan import ProblemScanActivities
from activities.triage import TriageActivities
from workflows.problem_scan import ProblemScanWorkflow
from workflows.triage_retrain import TriageRetrainWorkflow

WORKFLOWS = [TriageRetrainWorkflow, ProblemScanWorkflow]


def build_training_worker(
    *,
    client: Client,
    task_queue: str,
    sessions: async_sessionmaker[AsyncSession],
    data_dir: Path,
) -> Worker:
    """A worker serving retraining and the problem scan: their CPU never delays a ticket."""
    triage = TriageActivities(sessions, data_dir)
    problems = ProblemScanActivities(sessions)
    return Worker(
        client,
        task_queue=task_queue,
        workflows=WORKFLOWS,
        activities=[triage.train_triage_model, problems.scan_problems],
    )
