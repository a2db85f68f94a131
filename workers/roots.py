"""Which composition root a `ticketflow worker` process runs, chosen by its task queue."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.worker import Worker

from activities.actions.registry import action_registry
from services.problems import ensure_problem_schedule
from services.recurrence_sweep import ensure_sweep_schedule
from services.triage_schedule import ensure_retrain_schedule
from ticketflow.settings import Settings
from workers.tickets import build_ticket_worker
from workers.training import build_training_worker


async def worker_for_queue(
    *,
    settings: Settings,
    client: Client,
    task_queue: str,
    sessions: async_sessionmaker[AsyncSession],
) -> Worker:
    """The training worker on the training queue, else the tickets one (each with the
    Schedules of the workflows it serves ensured)."""
    if task_queue == settings.training_task_queue:
        await ensure_retrain_schedule(client=client, task_queue=task_queue)
        await ensure_problem_schedule(client=client, task_queue=task_queue)
        return build_training_worker(
            client=client, task_queue=task_queue, sessions=sessions, data_dir=settings.data_dir
        )
    await ensure_sweep_schedule(client=client, task_queue=task_queue)
    return build_ticket_worker(
        client=client,
        task_queue=task_queue,
        sessions=sessions,
        data_dir=settings.data_dir,
        actions=action_registry(settings),
        settings=settings,
        recurrence_watches=True,
    )
