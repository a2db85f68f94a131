"""What-if on tickets recorded by the real workflow: round-the-clock hours gain the breaches
that office hours did not count, and nothing is sent to a workflow."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from domain.calendars import WEEKDAYS, BusinessCalendar
from domain.definitions import ProcessDefinition
from domain.messages import ClaimInput, CompleteInput, StartTicketInput
from services.whatif import NotPublished, what_if
from store.calendars import insert_calendar
from store.definitions import insert_definition
from tests.builders import DESK, INCIDENT, REQUESTER
from tests.dbutil import migrated_sessions, sqlite_url
from tests.temporal_env import time_skipping_env
from tests.workflows.conftest import Stack
from workers.tickets import build_ticket_worker
from workflows.ticket import TicketWorkflow

pytestmark = pytest.mark.e2e
OFFICE = BusinessCalendar(key="office", version=1, hours={d: ["09:00-17:00"] for d in WEEKDAYS[:5]})
ALL_DAY = BusinessCalendar(key="allday", version=1, hours={d: ["00:00-24:00"] for d in WEEKDAYS})


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[tuple[WorkflowEnvironment, Stack]]:
    """A time-skipping server of this test's own (it moves the clock by hours)."""
    environment = await time_skipping_env()
    queue = f"whatif-{uuid.uuid4().hex[:8]}"
    try:
        async with (
            migrated_sessions(sqlite_url(tmp_path)) as sessions,
            build_ticket_worker(client=environment.client, task_queue=queue, sessions=sessions),
        ):
            yield environment, Stack(client=environment.client, task_queue=queue, sessions=sessions)
    finally:
        await environment.shutdown()


def definition() -> ProcessDefinition:
    """The incident with a 4-hour triage SLA on office hours."""
    document: dict[str, Any] = {**INCIDENT, "version": 1}
    document["stages"] = [
        {**s, "sla": {"target": "PT4H", "calendar": OFFICE.ref}} if s["key"] == "triage" else s
        for s in INCIDENT["stages"]
    ]
    document["calendars"] = {OFFICE.ref: OFFICE.model_dump(mode="json")}
    return ProcessDefinition.model_validate(document)


async def skip_to(environment: WorkflowEnvironment, instant: datetime) -> None:
    now = await environment.get_current_time()
    assert instant > now
    await environment.sleep(instant - now)


async def test_round_the_clock_hours_gain_the_overnight_breach(
    env: tuple[WorkflowEnvironment, Stack],
) -> None:
    environment, stack = env
    recorded = definition()
    now = await environment.get_current_time()
    monday = (now + timedelta(days=7 - now.weekday())).astimezone(UTC).date()
    start = datetime(monday.year, monday.month, monday.day, 16, tzinfo=UTC)
    await skip_to(environment, start)
    # Both filed Monday 16:00; `late` is triaged Tuesday 10:00 (2 office hours, 18 wall-clock
    # hours), `quick` at Monday 17:30 (1 office hour, 1.5 wall-clock hours).
    handles = {}
    for name in ("late", "quick"):
        key = f"INC-{name}-{uuid.uuid4().hex[:4]}"
        handles[name] = await stack.client.start_workflow(
            TicketWorkflow.run,
            StartTicketInput(
                key=key, definition=recorded, intake={"title": name}, requester=REQUESTER
            ),
            id=key,
            task_queue=stack.task_queue,
        )
        await handles[name].execute_update(
            TicketWorkflow.claim, ClaimInput(stage_key="triage", actor=DESK)
        )

    async def triage(name: str) -> None:
        await handles[name].execute_update(
            TicketWorkflow.complete, CompleteInput(stage_key="triage", actor=DESK)
        )

    await skip_to(environment, start + timedelta(hours=1, minutes=30))
    await triage("quick")
    await skip_to(environment, start + timedelta(hours=18))
    await triage("late")
    histories_before = [len((await h.fetch_history()).events) for h in handles.values()]

    async with stack.sessions() as session, session.begin():
        moment = datetime.now(UTC)
        await insert_definition(session=session, definition=recorded, published_by="t", now=moment)
        for calendar in (OFFICE, ALL_DAY):
            await insert_calendar(session=session, calendar=calendar, published_by="t", now=moment)
    async with stack.sessions() as session:
        since = start - timedelta(days=1)
        judged = start + timedelta(days=2)
        same = await what_if(
            session=session, definition="incident@1", calendar=None, since=since, as_of=judged
        )
        tighter = await what_if(
            session=session, definition="incident@1", calendar="allday@1", since=since, as_of=judged
        )
        with pytest.raises(NotPublished):
            await what_if(
                session=session,
                definition="incident@1",
                calendar="allday@9",
                since=since,
                as_of=judged,
            )

    # The recorded definition re-run reproduces what was recorded.
    assert (same.tickets_checked, same.tickets, same.breaches_gained) == (2, [], 0)
    assert tighter.tickets_checked == 2
    assert [(t.key, t.breaches_gained) for t in tighter.tickets] == [
        (handles["late"].id, ["stage:triage (round 1)"])
    ]
    assert (tighter.breaches_gained, tighter.breaches_lost, tighter.routing_changes) == (1, 0, 0)
    # No live ticket was touched: their histories did not grow, and they still run.
    assert [len((await h.fetch_history()).events) for h in handles.values()] == histories_before
    for handle in handles.values():
        assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING
        await handle.terminate()
