"""Care strategies (immutable versions, numbered per key) and the steps care workflows record."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from domain.care import CareStrategy
from domain.care_flow import CareRecord, CareTask
from store.models import (
    CareRecordRow,
    CareRunRow,
    CareStrategyRow,
    CareTaskRow,
)
from store.tickets import append_closed_event


async def next_strategy_version(*, session: AsyncSession, key: str) -> int:
    """The number the next published version of this strategy gets."""
    current = await session.scalar(
        select(func.max(CareStrategyRow.version)).where(CareStrategyRow.key == key)
    )
    return (current or 0) + 1


async def insert_strategy(
    *, session: AsyncSession, strategy: CareStrategy, published_by: str, now: datetime
) -> CareStrategyRow:
    """Store a checked strategy whose version is already assigned."""
    row = CareStrategyRow(
        key=strategy.key,
        version=strategy.version,
        title=strategy.title,
        document=strategy.model_dump(mode="json"),
        published_at=now,
        published_by=published_by,
    )
    session.add(row)
    await session.flush()
    return row


async def get_strategy(
    *, session: AsyncSession, key: str, version: int | None = None
) -> CareStrategyRow | None:
    """A strategy version, or the latest one when no version is given."""
    query = select(CareStrategyRow).where(CareStrategyRow.key == key)
    if version is not None:
        query = query.where(CareStrategyRow.version == version)
    return await session.scalar(query.order_by(CareStrategyRow.version.desc()).limit(1))


async def _keep_task(session: AsyncSession, task: CareTask, care_seq: int) -> None:
    row = await session.get(CareTaskRow, task.id)
    if row is None:
        row = CareTaskRow(id=task.id, care_seq=0)
        session.add(row)
    elif row.care_seq >= care_seq:
        return  # a newer step wrote it already
    row.ticket_key, row.customer_id = task.ticket_key, task.customer_id
    row.action, row.rule, row.group_name = task.action, task.rule, task.group
    row.status, row.opened_at, row.deadline = task.status, task.opened_at, task.deadline
    row.decided_by, row.decided_at, row.reason = task.decided_by, task.decided_at, task.reason
    row.care_seq = care_seq


async def record_care(*, session: AsyncSession, record: CareRecord) -> bool:
    """Keep one care step: in the customer's history, on the ticket's timeline, its task row
    and the run's row; False when it was kept before (a retry)."""
    if await session.get(CareRecordRow, (record.ticket_key, record.care_seq)) is not None:
        return False
    seq = await append_closed_event(
        session=session,
        key=record.ticket_key,
        type_=record.type,
        at=record.at,
        actor=record.actor,
        data=record.data,
    )
    session.add(
        CareRecordRow(
            ticket_key=record.ticket_key,
            care_seq=record.care_seq,
            customer_id=record.customer_id,
            ticket_seq=seq,
            type=record.type,
            at=record.at,
            actor=record.actor,
            data=record.data,
        )
    )
    if record.task is not None:
        await _keep_task(session, record.task, record.care_seq)
    if record.type == "care_started":
        session.add(
            CareRunRow(
                ticket_key=record.ticket_key,
                customer_id=record.customer_id,
                strategy=str(record.data.get("strategy", "")),
                started_at=record.at,
                ended_at=None,
            )
        )
    elif record.type == "care_ended":
        await session.execute(
            update(CareRunRow)
            .where(CareRunRow.ticket_key == record.ticket_key)
            .values(ended_at=record.at)
        )
    await session.flush()
    return True


async def running_care(*, session: AsyncSession, customer_id: str) -> list[str]:
    """The tickets whose care of this customer has not ended."""
    found = await session.scalars(
        select(CareRunRow.ticket_key)
        .where(CareRunRow.customer_id == customer_id, CareRunRow.ended_at.is_(None))
        .order_by(CareRunRow.ticket_key)
    )
    return list(found.all())


async def care_history(
    *, session: AsyncSession, customer_id: str, limit: int
) -> list[CareRecordRow]:
    """A customer's care steps over all their tickets, newest first."""
    found = await session.scalars(
        select(CareRecordRow)
        .where(CareRecordRow.customer_id == customer_id)
        .order_by(CareRecordRow.at.desc(), CareRecordRow.ticket_key, CareRecordRow.care_seq.desc())
        .limit(limit)
    )
    return list(found.all())


async def care_tasks(
    *, session: AsyncSession, group: str, status: str | None, limit: int
) -> list[CareTaskRow]:
    """A group's care tasks (of one status), soonest deadline first."""
    query = select(CareTaskRow).where(CareTaskRow.group_name == group)
    if status is not None:
        query = query.where(CareTaskRow.status == status)
    found = await session.scalars(query.order_by(CareTaskRow.deadline, CareTaskRow.id).limit(limit))
    return list(found.all())


async def get_care_task(*, session: AsyncSession, task_id: str) -> CareTaskRow | None:
    """One care task by id."""
    return await session.get(CareTaskRow, task_id)
