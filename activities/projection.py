"""The projection activity: one idempotent SQL write per ticket transition."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager, nullcontext
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from domain.messages import PROJECT_ACTIVITY, ProjectionInput, ProjectionResult
from domain.recurrence import started_record
from store.notifications import record_notifications
from store.projection import apply_projection
from store.recurrence import record_recurrence, record_step

T = TypeVar("T")

# Enough to share one commit among a burst's writers, few enough to keep each turn short.
MAX_WRITES_PER_COMMIT = 64

Write = Callable[[AsyncSession], Awaitable[Any]]


class GroupCommit:
    """Idempotent writes of concurrent activities, committed together: one transaction a turn.

    A writer queues its write and waits; while one turn's transaction runs, the next writers
    queue, and the following turn runs all of them (up to MAX_WRITES_PER_COMMIT) in one
    transaction, so a burst pays one BEGIN and COMMIT (one fsync, one pool checkout) instead of
    one per write. Should a turn fail, each of its writes runs again in a transaction of its
    own, so a failure reaches only the writer whose write failed. Every write must be
    idempotent: one may run twice that way, as under an activity retry.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        write_turn: AbstractAsyncContextManager[object],
    ) -> None:
        self._sessions = sessions
        self._write_turn = write_turn
        self._queue: list[tuple[Write, asyncio.Future[Any]]] = []
        self._drainer: asyncio.Task[None] | None = None

    async def write(self, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        """Run `work` in a transaction shared with the writes queued beside it; its result."""
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.append((work, future))
        if self._drainer is None or self._drainer.done():
            self._drainer = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        while self._queue:
            async with self._write_turn:
                turn = self._queue[:MAX_WRITES_PER_COMMIT]
                del self._queue[:MAX_WRITES_PER_COMMIT]
                # A writer cancelled while it waited (its activity timed out) writes nothing.
                turn = [(work, future) for work, future in turn if not future.done()]
                if turn:
                    await self._commit(turn)

    async def _commit(self, turn: list[tuple[Write, asyncio.Future[Any]]]) -> None:
        try:
            try:
                async with self._sessions() as session, session.begin():
                    results = [await work(session) for work, _future in turn]
            except Exception as exc:
                if len(turn) == 1:
                    _settle(turn[0][1], exc=exc)
                    return
                for work, future in turn:
                    await self._alone(work, future)
                return
        except BaseException:
            # The worker is stopping: no writer may wait for a turn that will not come.
            for _work, future in turn:
                future.cancel()
            raise
        for (_work, future), result in zip(turn, results, strict=True):
            _settle(future, result=result)

    async def _alone(self, work: Write, future: asyncio.Future[Any]) -> None:
        if future.done():
            return
        try:
            async with self._sessions() as session, session.begin():
                result = await work(session)
        except Exception as exc:
            _settle(future, exc=exc)
        else:
            _settle(future, result=result)


def _settle(
    future: asyncio.Future[Any], *, result: Any = None, exc: Exception | None = None
) -> None:
    """Hand the writer its outcome, unless it stopped waiting for it."""
    if future.done():
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(result)


class ProjectionActivities:
    """Holds the session factory the projection writes with."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], *, recurrence_watches: bool = True
    ) -> None:
        self._sessions = sessions
        # Off, a close records no watch (see workers.tickets.build_ticket_worker).
        self._recurrence_watches = recurrence_watches
        # SQLite admits one writer at a time and makes the others sleep and retry; queueing
        # this process's writers here instead keeps busy timeouts from starving any of them.
        single_writer = sessions.kw["bind"].dialect.name == "sqlite"
        self._write_turn: AbstractAsyncContextManager[object] = (
            asyncio.Lock() if single_writer else nullcontext()
        )
        self._group_commit = GroupCommit(sessions, self._write_turn)

    @property
    def write_turn(self) -> AbstractAsyncContextManager[object]:
        """The queue this process's SQLite writers wait in (a no-op on PostgreSQL)."""
        return self._write_turn

    @property
    def group_commit(self) -> GroupCommit:
        """The transactions the projection shares with other frequent idempotent writes."""
        return self._group_commit

    @activity.defn(name=PROJECT_ACTIVITY)
    async def project_ticket(self, projection: ProjectionInput) -> ProjectionResult:
        """Write the ticket row, its task rows, its new events and the notifications they
        cause in one transaction, with the recurrence watch's steps the projection carries."""

        async def write(session: AsyncSession) -> int:
            inserted = await apply_projection(
                session=session,
                ticket=projection.ticket,
                events=projection.events,
                clocks=projection.clocks,
                participants=projection.participants,
                snapshots=projection.snapshots,
            )
            for batch in projection.notifications:
                await record_notifications(session=session, batch=batch, channel="none")
            watch = projection.recurrence_watch
            if watch is not None and self._recurrence_watches:
                await record_step(session=session, record=started_record(watch))
            if projection.recurs is not None:
                await record_recurrence(
                    session=session,
                    closed_key=projection.recurs.key,
                    by=projection.ticket.key,
                    filed_at=projection.ticket.created_at,
                )
            return inserted

        return ProjectionResult(inserted=await self._group_commit.write(write))
