"""A closed ticket's care on a time-skipping server: the real ticket worker, SQLite, a webhook.

Each test gets its own time-skipping server (one clock each), a SQLite file, the real ticket
worker (TicketWorkflow, CareWorkflow and their activities) and a webhook served on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from domain.care_flow import CareResult, care_workflow_id
from domain.customers import ConsentGrant
from domain.definitions import ProcessDefinition
from domain.messages import ClaimInput, CompleteInput, ConfirmInput, StartTicketInput
from domain.ticket import Actor
from services.care import publish_strategy
from services.customers import check_customer
from services.publishing import publish_definition
from store import customers as customers_store
from store.models import CareRecordRow, CareTaskRow, TicketRow
from tests.activities.endpoint import Endpoint, serving
from tests.dbutil import migrated_sessions, sqlite_url
from tests.temporal_env import time_skipping_env
from ticketflow.settings import Settings
from workers.tickets import build_ticket_worker
from workflows.care import CareWorkflow
from workflows.ticket import TicketWorkflow

STRATEGY: dict[str, Any] = {
    "key": "after-repair",
    "timezone": "UTC",
    "rules": [
        {
            "name": "vip",
            "when": {"tiers": ["vip"]},
            "actions": [
                {"action": "supervisor_call", "delay": "PT0S", "mode": "confirm"},
                {"action": "survey", "delay": "PT4H"},
                {"action": "warranty_offer", "delay": "P7D", "params": {"years": 2}},
            ],
        },
        {
            "name": "everyone",
            "actions": [
                {"action": "survey", "delay": "P1D"},
                {"action": "coupon", "delay": "P30D", "params": {"value": 20}},
            ],
        },
    ],
}
DEFINITION: dict[str, Any] = {
    "key": "repair",
    "title": "Repair",
    "key_prefix": "REP",
    "department": "field",
    "intake_form": {
        "type": "object",
        "required": ["title", "customer_id"],
        "properties": {"title": {"type": "string"}, "customer_id": {"type": "string"}},
    },
    "stages": [{"key": "fix", "title": "Fix it", "group": "field"}],
    "care": {"strategy": "after-repair"},
}
CUSTOMERS = {
    "C-VIP": {"id": "C-VIP", "name": "Li Wei", "email": "li@example.com", "tier": "vip"},
    "C-STD": {"id": "C-STD", "name": "Chen Jing", "email": "chen@example.com", "tier": "standard"},
}
REQUESTER = Actor(user="rita", department="sales", role="requester")
ENGINEER = Actor(user="finn", department="field", role="agent")
CARE_AGENT = Actor(user="carla", department="customer-care", role="agent")


@dataclass
class CareStack:
    """The client, the worker's queue, the store, the webhook and the published definition."""

    env: WorkflowEnvironment
    client: Client
    task_queue: str
    sessions: async_sessionmaker[AsyncSession]
    webhook: Endpoint
    definition: ProcessDefinition
    inbox: str


@asynccontextmanager
async def care_stack(tmp_path: Path, *, fail_first: int = 0) -> AsyncIterator[CareStack]:
    """A fresh time-skipping server, store and worker; the webhook fails its first posts."""
    env = await time_skipping_env()
    inbox = uuid.uuid4().hex[:8]
    try:
        async with serving() as webhook, migrated_sessions(sqlite_url(tmp_path)) as sessions:
            settings = Settings(
                data_dir=tmp_path,
                http_allowed_hosts=[webhook.allowed],
                care_webhook_url=webhook.url(f"/inbox/{inbox}?fail={fail_first}"),
            )
            definition = await seed(sessions)
            queue = f"care-{inbox}"
            async with build_ticket_worker(
                client=env.client, task_queue=queue, sessions=sessions, settings=settings
            ):
                yield CareStack(env, env.client, queue, sessions, webhook, definition, inbox)
    finally:
        await env.shutdown()


async def seed(sessions: async_sessionmaker[AsyncSession]) -> ProcessDefinition:
    """The strategy, the definition that opts into it, both customers and their consent."""
    owner = Actor(user="owner", department="field", role="process_owner")
    async with sessions() as session, session.begin():
        await publish_strategy(session=session, document=STRATEGY, published_by="owner")
        row = await publish_definition(
            session=session, document=DEFINITION, published_by="owner", publisher=owner
        )
        now = datetime.now(UTC)
        for document in CUSTOMERS.values():
            customer = check_customer(document=document, settings=Settings())
            await customers_store.insert_customer(
                session=session, customer=customer, created_by="carla", now=now
            )
            await customers_store.insert_consent(
                session=session,
                customer_id=customer.id,
                grant=ConsentGrant(purpose="care_messages", channel="phone", text="Tips?"),
                given_at=now - timedelta(days=1),
                recorded_by="carla",
                token_sha256=uuid.uuid4().hex + uuid.uuid4().hex,
                now=now,
            )
    return ProcessDefinition.model_validate(row.document)


async def close_ticket(stack: CareStack, customer_id: str) -> str:
    """File a ticket for the customer, work its stage, confirm it: the ticket closes."""
    key = f"REP-{uuid.uuid4().hex[:6]}"
    handle = await stack.client.start_workflow(
        TicketWorkflow.run,
        StartTicketInput(
            key=key,
            definition=stack.definition,
            intake={"title": "AC leaks", "customer_id": customer_id},
            requester=REQUESTER,
        ),
        id=key,
        task_queue=stack.task_queue,
    )
    await handle.execute_update(TicketWorkflow.claim, ClaimInput(stage_key="fix", actor=ENGINEER))
    await handle.execute_update(
        TicketWorkflow.complete, CompleteInput(stage_key="fix", actor=ENGINEER)
    )
    await handle.execute_update(TicketWorkflow.confirm, ConfirmInput(actor=REQUESTER))
    await handle.result()
    return key


def care_of(stack: CareStack, key: str) -> WorkflowHandle[CareWorkflow, CareResult]:
    """The care workflow of a ticket."""
    return stack.client.get_workflow_handle_for(CareWorkflow.run, care_workflow_id(key))


async def cared(stack: CareStack, *keys: str, days: int = 40) -> list[CareResult]:
    """Skip the server's clock a day at a time until these tickets' care has ended.

    The child was started by the ticket, not by this client, so waiting on its result does
    not skip time by itself: the test moves the clock.
    """
    handles = [care_of(stack, key) for key in keys]
    for _ in range(days):
        statuses = [(await h.describe()).status for h in handles]
        if all(s != WorkflowExecutionStatus.RUNNING for s in statuses):
            break
        await stack.env.sleep(timedelta(days=1))
    return [await h.result() for h in handles]


async def closed_at(stack: CareStack, key: str) -> datetime:
    """When the ticket closed, as its row says (workflow time)."""
    async with stack.sessions() as session:
        row = await session.get(TicketRow, key)
        assert row is not None
        assert row.closed_at is not None
        return row.closed_at


async def records(stack: CareStack, key: str) -> list[CareRecordRow]:
    """The ticket's care steps in order."""
    async with stack.sessions() as session:
        found = await session.scalars(
            select(CareRecordRow)
            .where(CareRecordRow.ticket_key == key)
            .order_by(CareRecordRow.care_seq)
        )
        return list(found.all())


def ended(found: list[CareRecordRow]) -> dict[str, tuple[str, datetime, dict[str, Any]]]:
    """Each action's final step: its outcome, when, and the step's data."""
    final: dict[str, tuple[str, datetime, dict[str, Any]]] = {}
    for record in found:
        if record.type == "care_action" and record.data["outcome"] not in (
            "awaiting_confirmation",
            "approved",
        ):
            final[record.data["action"]] = (record.data["outcome"], record.at, record.data)
    return final


async def open_task(stack: CareStack, key: str) -> CareTaskRow:
    """Wait (real time, no skipping) until the care workflow has opened its task."""
    for _ in range(200):
        async with stack.sessions() as session:
            row = await session.scalar(select(CareTaskRow).where(CareTaskRow.ticket_key == key))
        if row is not None:
            return row
        await asyncio.sleep(0.05)
    raise AssertionError(f"no care task for {key}")
