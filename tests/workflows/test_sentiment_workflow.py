"""A customer's sentiment workflow on the time-skipping server (its own per test), with the real
activities on SQLite: scored only with consent, purged at 30 days, purged at once on revocation,
and expedites proposed to the ticket that a supervisor confirms or declines."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from domain.customers import Customer
from domain.messages import ExpediteDecisionInput, StartTicketInput
from domain.sentiment import (
    RETENTION,
    CustomerSentimentResult,
    purge_due,
    sentiment_workflow_id,
)
from domain.ticket import Actor, TicketState
from services.customers import record_consent, revoke_consent
from services.sentiment import submit_message
from store import customers as customer_store
from store.models import (
    Base,
    ConsentRevocationRow,
    ConsentRow,
    SentimentPurgeRow,
    SentimentRecordRow,
    TicketEventRow,
)
from tests.builders import DESK, REQUESTER, incident
from tests.dbutil import migrated_sessions, sqlite_url
from tests.temporal_env import time_skipping_env
from ticketflow.settings import Settings
from workers.tickets import build_ticket_worker
from workflows.ticket import TicketWorkflow

CUSTOMER = "C-7"
SUE = Actor(user="sue", department="care-supervisors", role="agent")
ANGRY = "Absolutely unacceptable! This is the third time your technician did not show up."
CONSENT = {"purpose": "sentiment_analysis", "channel": "app", "text": "May we read your mood?"}


@dataclass
class Stack:
    """A time-skipping server of its own, a store, and the settings the services use."""

    env: WorkflowEnvironment
    sessions: async_sessionmaker[AsyncSession]
    settings: Settings
    data_dir: Path

    @property
    def client(self) -> Client:
        return self.env.client

    def worker(self) -> AbstractAsyncContextManager[Worker]:
        """The ticket worker (which serves the sentiment workflow and activities)."""
        return build_ticket_worker(
            client=self.client,
            task_queue=self.settings.task_queue,
            sessions=self.sessions,
            data_dir=self.data_dir,
        )


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    # Timers fire by skipping time: each test has its own clock.
    env = await time_skipping_env()
    try:
        async with migrated_sessions(sqlite_url(tmp_path)) as sessions:
            settings = Settings(task_queue=f"sentiment-{uuid.uuid4().hex[:8]}")
            async with sessions() as session, session.begin():
                await customer_store.insert_customer(
                    session=session,
                    customer=Customer(id=CUSTOMER, name="Li Wei", tier="vip"),
                    created_by="carla",
                    now=datetime.now(UTC),
                )
            yield Stack(env=env, sessions=sessions, settings=settings, data_dir=tmp_path)
    finally:
        await env.shutdown()


async def consent(stack: Stack) -> None:
    async with stack.sessions() as session, session.begin():
        await record_consent(
            session=session,
            customer_id=CUSTOMER,
            document=CONSENT,
            actor=Actor(user="carla", department="customer-care", role="agent"),
            now=datetime.now(UTC),
        )


async def revoke(stack: Stack) -> None:
    async with stack.sessions() as session, session.begin():
        revoked = await revoke_consent(
            session=session,
            customer_id=CUSTOMER,
            purpose="sentiment_analysis",
            actor=Actor(user="carla", department="customer-care", role="agent"),
            now=datetime.now(UTC),
            client=stack.client,
            settings=stack.settings,
        )
    assert revoked is not None


async def submit(stack: Stack, text: str, ticket_key: str | None = None) -> int | None:
    submitted = await submit_message(
        sessions=stack.sessions,
        client=stack.client,
        settings=stack.settings,
        customer_id=CUSTOMER,
        text=text,
        source="comment" if ticket_key else "feedback",
        now=datetime.now(UTC),
        ticket_key=ticket_key,
    )
    return submitted.record_id


async def records(stack: Stack) -> list[SentimentRecordRow]:
    async with stack.sessions() as session:
        return list(await session.scalars(select(SentimentRecordRow)))


async def purges(stack: Stack) -> list[SentimentPurgeRow]:
    async with stack.sessions() as session:
        return list(await session.scalars(select(SentimentPurgeRow).order_by(SentimentPurgeRow.id)))


async def eventually(check: Callable[[], Awaitable[bool]]) -> None:
    """Wait for work the worker does in real time (the server skips time only on results)."""
    for _ in range(2400):
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the worker never got there")


async def scored(stack: Stack, count: int) -> bool:
    return sum(r.scored_at is not None for r in await records(stack)) == count


async def tables_holding(stack: Stack, *markers: str) -> list[str]:
    """Every table of the metadata with a row that holds one of the markers, in any column."""
    found = []
    async with stack.sessions() as session:
        for table in Base.metadata.sorted_tables:
            rows = (await session.execute(select(table))).all()
            if any(marker in repr(tuple(row)) for row in rows for marker in markers):
                found.append(table.name)
    return found


async def result(stack: Stack) -> CustomerSentimentResult:
    handle = stack.client.get_workflow_handle(
        sentiment_workflow_id(CUSTOMER), result_type=CustomerSentimentResult
    )
    # Past every purge: the server skips the time (no wall clock waits 30 days).
    await stack.env.sleep(RETENTION + timedelta(days=1))
    answer: CustomerSentimentResult = await handle.result()
    return answer


async def test_scores_are_kept_with_their_text_and_purged_at_thirty_days(stack: Stack) -> None:
    await consent(stack)
    async with stack.worker():
        first = await submit(stack, "MARK-ONE Thank you so much, the repair was perfect.")
        second = await submit(stack, "MARK-TWO 太过分了，你们白白浪费了我三个星期。")
        assert first is not None
        assert second is not None
        await eventually(lambda: scored(stack, 2))
        kept = {r.id: r for r in await records(stack)}
        assert kept[first].label == "positive"
        assert kept[second].label == "angry"
        assert kept[first].text.startswith("MARK-ONE")
        assert sum((kept[second].probabilities or {}).values()) == pytest.approx(1, abs=1e-3)
        taken = {r.id: r.taken_at for r in kept.values()}
        assert await tables_holding(stack, "MARK-ONE", "MARK-TWO") == ["sentiment_records"]
        ended = await result(stack)  # the server skips the 30 days
    assert (ended.scored, ended.purged, ended.revoked) == (2, 2, False)
    assert await records(stack) == []
    recorded = await purges(stack)
    assert {p.reason for p in recorded} == {"retention"}
    assert sum(p.deleted for p in recorded) == sum(p.scored for p in recorded) == 2
    purged = [i for p in recorded for i in p.records["ids"]]
    assert sorted(purged) == sorted(taken)
    for purge in recorded:
        # Each record went at its own 30 days, and not a day later.
        for record_id, stamp in zip(purge.records["ids"], purge.records["taken_at"], strict=True):
            assert stamp == taken[record_id].isoformat()
            assert purge.at >= purge_due(taken[record_id])
            assert purge.at - taken[record_id] < timedelta(days=31)
        assert "MARK" not in repr(purge.records)
    assert await tables_holding(stack, "MARK-ONE", "MARK-TWO") == []


async def test_a_revocation_mid_way_purges_at_once_and_keeps_the_ledger(stack: Stack) -> None:
    await consent(stack)
    async with stack.worker():
        await submit(stack, "MARK-REV-1 I'm really worried, water is leaking everywhere.")
        await submit(stack, "MARK-REV-2 Hello, my order number is 48213.")
        await eventually(lambda: scored(stack, 2))
        taken_at = min(r.taken_at for r in await records(stack))
        await revoke(stack)
        ended = await result(stack)
    assert ended.revoked
    assert await records(stack) == []
    [purge] = await purges(stack)
    assert (purge.reason, purge.deleted, purge.scored) == ("revoked", 2, 2)
    # At once: long before the records' own purge was due.
    assert purge.at - taken_at < timedelta(days=1)
    assert await tables_holding(stack, "MARK-REV") == []
    async with stack.sessions() as session:
        grants = list(await session.scalars(select(ConsentRow)))
        revocations = list(await session.scalars(select(ConsentRevocationRow)))
    # The consent once given stays on record, with its text, beside its revocation.
    assert [(g.purpose, g.text) for g in grants] == [("sentiment_analysis", CONSENT["text"])]
    assert [r.consent_id for r in revocations] == [grants[0].id]
    # And nothing is taken any more.
    assert await submit(stack, "MARK-AFTER I am furious!") is None
    assert await tables_holding(stack, "MARK-AFTER") == []


async def test_a_revocation_cancels_work_still_queued(stack: Stack) -> None:
    await consent(stack)
    # No worker yet: the messages wait in the workflow's queue, unscored.
    await submit(stack, "MARK-Q-1 I am fuming, nobody called me back.")
    await submit(stack, "MARK-Q-2 Please hurry, the freezer is thawing.")
    await revoke(stack)
    async with stack.worker():
        ended = await result(stack)
    assert (ended.scored, ended.revoked) == (0, True)
    handle = stack.client.get_workflow_handle(sentiment_workflow_id(CUSTOMER))
    scheduled = [
        e.activity_task_scheduled_event_attributes.activity_type.name
        async for e in handle.fetch_history_events()
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    ]
    assert scheduled == ["purge_sentiment"]  # never scored
    [purge] = await purges(stack)
    assert (purge.reason, purge.deleted, purge.scored) == ("revoked", 2, 0)
    assert await tables_holding(stack, "MARK-Q") == []


async def test_nothing_is_taken_or_scored_without_consent(stack: Stack) -> None:
    assert await submit(stack, "MARK-NONE I am furious!") is None
    assert await records(stack) == []
    with pytest.raises(RPCError) as info:
        await stack.client.get_workflow_handle(sentiment_workflow_id(CUSTOMER)).describe()
    assert info.value.status == RPCStatusCode.NOT_FOUND
    assert await tables_holding(stack, "MARK-NONE") == []


async def test_consent_is_checked_again_when_the_message_is_scored(stack: Stack) -> None:
    await consent(stack)
    record_id = await submit(stack, "MARK-LATE Thank you, lovely work.")
    assert record_id is not None
    # Revoked in the ledger after the message was queued, before any worker scored it (the
    # revocation's own signal is not sent here: only the check at scoring stands between).
    async with stack.sessions() as session, session.begin():
        [(grant, _none)] = await customer_store.consents_of(session=session, customer_id=CUSTOMER)
        await customer_store.insert_revocation(
            session=session, consent=grant, revoked_by="carla", via="api", now=datetime.now(UTC)
        )
    async with stack.worker():
        ended = await result(stack)
    assert ended.scored == 0
    assert await records(stack) == []
    reasons = [(p.reason, p.deleted, p.scored) for p in await purges(stack)]
    assert reasons[0] == ("no_consent", 1, 0)
    assert await tables_holding(stack, "MARK-LATE") == []


async def ticket_state(stack: Stack, key: str) -> TicketState:
    state: TicketState = await stack.client.get_workflow_handle(key).query(TicketWorkflow.state)
    return state


async def test_an_angry_message_proposes_an_expedite_that_a_supervisor_decides(
    stack: Stack,
) -> None:
    await consent(stack)
    key = f"INC-{uuid.uuid4().hex[:6]}"
    async with stack.worker():
        handle = await stack.client.start_workflow(
            TicketWorkflow.run,
            StartTicketInput(
                key=key,
                definition=incident(),
                intake={"title": "AC broken", "customer_id": CUSTOMER},
                requester=REQUESTER,
            ),
            id=key,
            task_queue=stack.settings.task_queue,
        )

        async def proposals(count: int) -> bool:
            return len((await ticket_state(stack, key)).expedites) == count

        await submit(stack, "Hello, could you tell me when the technician arrives?", key)
        await submit(stack, ANGRY, key)
        await eventually(lambda: proposals(1))
        state = await ticket_state(stack, key)
        [proposal] = state.expedites.values()
        assert (proposal.status, proposal.supervisor_group) == ("proposed", "care-supervisors")
        # The model proposed; nothing changed yet.
        assert state.priority == "P3"
        assert not state.followups
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await handle.execute_update(
                TicketWorkflow.decide_expedite,
                ExpediteDecisionInput(actor=DESK, proposal=proposal.id, decision="confirm"),
            )
        assert isinstance(refused.value.cause, ApplicationError)
        assert refused.value.cause.type == "TicketForbidden"
        await handle.execute_update(
            TicketWorkflow.decide_expedite,
            ExpediteDecisionInput(
                actor=SUE, proposal=proposal.id, decision="confirm", reason="call her"
            ),
        )
        state = await ticket_state(stack, key)
        assert state.priority == "P2"
        [task] = state.followups.values()
        assert (task.group, task.status) == ("care-supervisors", "open")

        await submit(stack, ANGRY, key)
        await eventually(lambda: proposals(2))
        second = (await ticket_state(stack, key)).expedites["E2"]
        await handle.execute_update(
            TicketWorkflow.decide_expedite,
            ExpediteDecisionInput(actor=SUE, proposal=second.id, decision="decline"),
        )
        state = await ticket_state(stack, key)
        assert [p.status for p in state.expedites.values()] == ["confirmed", "declined"]
        assert state.priority == "P2"
        assert len(state.followups) == 1
        async with stack.sessions() as session:
            projected = list(
                await session.scalars(
                    select(TicketEventRow.type)
                    .where(TicketEventRow.ticket_key == key, TicketEventRow.type.like("expedite%"))
                    .order_by(TicketEventRow.seq)
                )
            )
        assert projected == [
            "expedite_proposed",
            "expedite_confirmed",
            "expedite_proposed",
            "expedite_declined",
        ]
        # The ticket's timeline names the record, never its text or score.
        assert await tables_holding(stack, "third time your technician") == ["sentiment_records"]
        # A revocation withdraws nothing decided, and the records go.
        await revoke(stack)
        ended = await result(stack)
    assert ended.revoked
    assert await tables_holding(stack, "third time your technician") == []
