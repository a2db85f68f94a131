"""The audit history across continue-as-new: replayed timeline, raw decode and reconcile."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from temporalio.testing import WorkflowEnvironment

from domain.messages import ClaimInput, CommentInput, ExternalEventInput, StartTicketInput
from services.ticket_history import (
    TicketNotInTemporal,
    raw_history,
    reconcile_since,
    reconcile_ticket,
    replayed_entries,
    ticket_runs,
)
from store.models import TicketEventRow
from tests.builders import DESK, REQUESTER, incident
from tests.dbutil import migrated_sessions, sqlite_url
from tests.temporal_env import dev_server_env
from ticketflow.temporal_client import DATA_CONVERTER
from workers.tickets import build_ticket_worker
from workflows.ticket import TicketWorkflow

pytestmark = pytest.mark.e2e
SUGGEST_AFTER_EVENTS = 40


@pytest.fixture(scope="module")
async def chatty_env() -> AsyncIterator[WorkflowEnvironment]:
    """A dev server that suggests continue-as-new after a few dozen history events."""
    env = await dev_server_env(
        [
            "--dynamic-config-value",
            f"limit.historyCount.suggestContinueAsNew={SUGGEST_AFTER_EVENTS}",
        ]
    )
    try:
        yield env
    finally:
        await env.shutdown()


async def test_history_follows_continue_as_new_and_matches_sql(
    chatty_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    queue = f"hist-{uuid.uuid4().hex[:8]}"
    key = f"INC-{uuid.uuid4().hex[:6]}"
    client = chatty_env.client
    async with (
        migrated_sessions(sqlite_url(tmp_path)) as sessions,
        build_ticket_worker(client=client, task_queue=queue, sessions=sessions),
    ):
        handle = await client.start_workflow(
            TicketWorkflow.run,
            StartTicketInput(
                key=key, definition=incident(), intake={"title": "flaky"}, requester=REQUESTER
            ),
            id=key,
            task_queue=queue,
        )
        await handle.execute_update(
            TicketWorkflow.claim, ClaimInput(stage_key="triage", actor=DESK), id="claim-1"
        )
        for i in range(12):
            await handle.execute_update(
                TicketWorkflow.comment,
                CommentInput(actor=DESK, body=f"update {i}"),
                id=f"comment-{i}",
            )
        latest = client.get_workflow_handle(key)
        await latest.signal(
            TicketWorkflow.external_event,
            ExternalEventInput(name="external_update", source="crm", signal_id="sig-1"),
        )
        # An Update after the signal: the signal's projection is in history once it answers.
        await latest.execute_update(
            TicketWorkflow.comment, CommentInput(actor=DESK, body="last"), id="comment-last"
        )

        runs = await ticket_runs(client=client, key=key)
        assert len(runs) >= 2
        assert runs[0].run_id == handle.result_run_id
        entries = await replayed_entries(runs=runs, data_converter=DATA_CONVERTER)
        async with sessions() as session:
            rows = (
                await session.scalars(
                    select(TicketEventRow)
                    .where(TicketEventRow.ticket_key == key)
                    .order_by(TicketEventRow.seq)
                )
            ).all()
        assert [e.event.seq for e in entries] == [r.seq for r in rows]
        assert {e.run_id for e in entries} == {r.run_id for r in runs}

        by_type = {e.event.type: e for e in entries}
        assert by_type["created"].cause.kind == "start"
        assert by_type["created"].cause.id == runs[0].run_id
        claimed = by_type["task_claimed"]
        assert (claimed.cause.kind, claimed.cause.id, claimed.cause.name) == (
            "update",
            "claim-1",
            "claim",
        )
        assert claimed.event.actor == DESK.user
        external = by_type["external_event"]
        assert (external.cause.kind, external.cause.id) == ("signal", "sig-1")
        comments = [e for e in entries if e.event.type == "comment_added"]
        assert [c.cause.id for c in comments] == [
            *(f"comment-{i}" for i in range(12)),
            "comment-last",
        ]
        assert comments[-1].run_id == runs[-1].run_id != runs[0].run_id

        raw = await raw_history(runs=runs, data_converter=DATA_CONVERTER)
        started = raw[0]["events"][0]["workflowExecutionStartedEventAttributes"]
        assert started["input"][0]["key"] == key
        assert started["input"][0]["intake"] == {"title": "flaky"}
        signalled = [
            e["workflowExecutionSignaledEventAttributes"]["input"][0]
            for run in raw
            for e in run["events"]
            if "workflowExecutionSignaledEventAttributes" in e
        ]
        assert signalled[0]["signal_id"] == "sig-1"

        async with sessions() as session:
            assert (
                await reconcile_ticket(
                    session=session, client=client, key=key, data_converter=DATA_CONVERTER
                )
                == []
            )
            row = await session.get(TicketEventRow, (key, claimed.event.seq))
            assert row is not None
            row.actor = "mallory"  # a row edited by hand
            await session.commit()
            since = datetime.now(UTC) - timedelta(hours=1)
            found = await reconcile_since(
                session=session, client=client, since=since, data_converter=DATA_CONVERTER
            )
        assert [(d.ticket, d.seq, d.kind, d.fields) for d in found] == [
            (key, claimed.event.seq, "changed", ["actor"])
        ]
        await latest.terminate()


async def test_an_unknown_ticket_is_not_in_temporal(chatty_env: WorkflowEnvironment) -> None:
    with pytest.raises(TicketNotInTemporal):
        await ticket_runs(client=chatty_env.client, key="INC-nobody")
