"""Automated stages and gateways in TicketWorkflow on the time-skipping server.

Each test has its own server (timers and timeouts move its clock) and a worker that also
serves a test action, `test.flaky`, failing as many times as its parameters say.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from temporalio import activity
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from activities.actions.registry import ActionRegistry, RegisteredAction
from domain.actions import ActionInput, ActionOutput, ActionSpec, action_activity
from domain.calendars import BusinessCalendar
from domain.definitions import ProcessDefinition
from domain.messages import (
    CancelInput,
    ClaimInput,
    CompleteInput,
    ConfirmInput,
    ExternalEventInput,
    ReopenInput,
    StartTicketInput,
    TicketResult,
)
from domain.sla import ClockState
from domain.sla_clocks import stage_clock_id
from domain.ticket import Actor, TaskStatus, TicketState, TicketStatus
from store.definitions import insert_definition
from store.models import TaskRow, TicketEventRow
from tests.builders import REQUESTER
from tests.dbutil import migrated_sessions, sqlite_url
from tests.domain.processes import exclusive, inclusive, process, service, stage
from tests.temporal_env import time_skipping_env
from tests.workflows.conftest import Stack
from workers.tickets import build_ticket_worker
from workflows.ticket import TicketWorkflow

Handle = WorkflowHandle[TicketWorkflow, TicketResult]
DESK = Actor(user="dana", department="desk", role="agent")
OPS = Actor(user="otto", department="ops", role="agent")
CALLS: Counter[str] = Counter()
FAST_RETRY = {"maximum_attempts": 3, "initial_interval": "PT0.1S", "maximum_interval": "PT0.2S"}


@activity.defn(name=action_activity("test.flaky"))
async def flaky(call: ActionInput) -> ActionOutput:
    """Fails its first `fail_times` calls for this ticket's stage, then echoes `level`."""
    name = f"{call.ticket_key}:{call.stage}"
    CALLS[name] += 1
    if call.params.get("refuse"):
        raise ApplicationError(
            "refused: bad configuration", type="ActionConfig", non_retryable=True
        )
    if CALLS[name] <= int(call.params.get("fail_times", 0)):
        raise ApplicationError(f"call {CALLS[name]} failed", type="Flaky")
    return ActionOutput(output={"level": call.params.get("level"), "calls": CALLS[name]})


FLAKY = ActionSpec(
    name="test.flaky",
    description="Fails its first `fail_times` calls, then echoes `level`.",
    params_schema={"type": "object"},
    output_schema={"type": "object", "properties": {"level": {}, "calls": {}}},
)


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[tuple[WorkflowEnvironment, Stack]]:
    """A time-skipping server of this test's own, and a worker that serves `test.flaky`."""
    environment = await time_skipping_env()
    queue = f"auto-{uuid.uuid4().hex[:8]}"
    try:
        async with (
            migrated_sessions(sqlite_url(tmp_path)) as sessions,
            build_ticket_worker(
                client=environment.client,
                task_queue=queue,
                sessions=sessions,
                actions=ActionRegistry([RegisteredAction(FLAKY, flaky)]),
            ),
        ):
            yield environment, Stack(client=environment.client, task_queue=queue, sessions=sessions)
    finally:
        await environment.shutdown()


async def file(
    stack: Stack, definition: ProcessDefinition, intake: dict[str, Any] | None = None
) -> Handle:
    """Start a ticket of this definition."""
    key = f"FLOW-{uuid.uuid4().hex[:6]}"
    return await stack.client.start_workflow(
        TicketWorkflow.run,
        StartTicketInput(key=key, definition=definition, intake=intake or {}, requester=REQUESTER),
        id=key,
        task_queue=stack.task_queue,
    )


async def until(
    handle: Handle, holds: Callable[[TicketState], bool], what: str = "the ticket"
) -> TicketState:
    """Query the ticket until `holds` is true of it (real seconds; activities are quick)."""
    for _ in range(400):
        state = await handle.query(TicketWorkflow.state)
        if holds(state):
            return state
        await asyncio.sleep(0.05)
    raise AssertionError(f"{what} never got there: {statuses(state)}")


def statuses(state: TicketState) -> dict[str, str]:
    """Each stage's task status."""
    return {key: task.status.value for key, task in state.tasks.items()}


def status_is(key: str, status: TaskStatus) -> Callable[[TicketState], bool]:
    """A stage's task has this status."""
    return lambda state: state.tasks[key].status == status


def events(state: TicketState, type_: str) -> list[dict[str, Any]]:
    """The data of the ticket's events of one type."""
    return [e.data for e in state.events if e.type == type_]


async def work(
    handle: Handle, key: str, who: Actor = DESK, data: dict[str, Any] | None = None
) -> None:
    """Claim and complete a stage."""
    await handle.execute_update(TicketWorkflow.claim, ClaimInput(stage_key=key, actor=who))
    await handle.execute_update(
        TicketWorkflow.complete, CompleteInput(stage_key=key, actor=who, data=data or {})
    )


async def projected_types(stack: Stack, key: str) -> list[str]:
    """The ticket's event types as the projection stored them."""
    async with stack.sessions() as session:
        rows = await session.scalars(
            select(TicketEventRow.type)
            .where(TicketEventRow.ticket_key == key)
            .order_by(TicketEventRow.seq)
        )
        return list(rows.all())


async def projected_until(stack: Stack, key: str, holds: Callable[[list[str]], bool]) -> list[str]:
    """The ticket's projected event types once `holds` is true of them (real seconds)."""
    for _ in range(400):
        types = await projected_types(stack, key)
        if holds(types):
            return types
        await asyncio.sleep(0.05)
    raise AssertionError(f"the projection never got there: {types}")


# -- gateways ------------------------------------------------------------------------------------

ASSESSED = process(
    stage(
        "assess",
        kind="service",
        group="ops",
        service=service(params={"level": "=intake.severity", "fail_times": 1}, retry=FAST_RETRY),
        gateway=exclusive(("safety", "stages.assess.data.level > 3"), default="fix"),
        sla={"target": "PT1H"},
    ),
    stage("safety", group="ops"),
    stage("fix"),
    stage("verify", depends_on=["safety", "fix"]),
)


async def test_an_exclusive_gateway_after_a_flaky_service_and_its_join_then_reopen(
    env: tuple[WorkflowEnvironment, Stack],
) -> None:
    _environment, stack = env
    handle = await file(stack, ASSESSED, {"severity": 5})
    state = await until(handle, status_is("safety", TaskStatus.OPEN))
    assert state.tasks["assess"].data == {"level": 5, "calls": 2}  # failed once, then succeeded
    assert statuses(state) == {
        "assess": "done",
        "safety": "open",
        "fix": "skipped",
        "verify": "pending",
    }
    assert events(state, "gateway_decided")[0]["taken"] == ["safety"]
    assert state.clocks[stage_clock_id("assess")].state() == ClockState.MET
    await work(handle, "safety", OPS)
    await work(handle, "verify")
    state = await until(handle, lambda s: s.status == TicketStatus.RESOLVED)

    await handle.execute_update(
        TicketWorkflow.reopen, ReopenInput(actor=DESK, reason="check again", stages=["assess"])
    )
    state = await until(
        handle,
        lambda s: s.tasks["safety"].round == 2 and s.tasks["safety"].status == TaskStatus.OPEN,
    )
    assert state.tasks["assess"].round == 2
    assert len(events(state, "service_started")) == 2
    assert len(events(state, "gateway_decided")) == 2
    assert state.tasks["fix"].status == TaskStatus.SKIPPED
    # The query answers before the last transition's projection commits: wait for its rows.
    types = await projected_until(stack, handle.id, lambda t: t.count("stage_skipped") == 2)
    assert "service_completed" in types


async def test_an_inclusive_gateway_joins_only_the_branches_taken(
    env: tuple[WorkflowEnvironment, Stack],
) -> None:
    _environment, stack = env
    definition = process(
        stage(
            "sort",
            gateway=inclusive(
                ("mail", "stages.sort.data.mail"),
                ("phone", "stages.sort.data.phone"),
                ("visit", "stages.sort.data.visit"),
            ),
        ),
        stage("mail", sla={"target": "PT1H"}),
        stage("phone"),
        stage("visit", sla={"target": "PT1H"}),
        stage("report", depends_on=["mail", "phone", "visit"]),
    )
    handle = await file(stack, definition)
    await work(handle, "sort", data={"mail": True, "phone": True, "visit": False})
    state = await until(handle, status_is("mail", TaskStatus.OPEN))
    assert statuses(state)["visit"] == "skipped"
    assert stage_clock_id("visit") not in state.clocks
    assert state.clocks[stage_clock_id("mail")].state() == ClockState.RUNNING
    await work(handle, "mail")
    assert statuses(await handle.query(TicketWorkflow.state))["report"] == "pending"
    await work(handle, "phone")
    await work(handle, "report")
    state = await until(handle, lambda s: s.status == TicketStatus.RESOLVED)
    assert state.clocks[stage_clock_id("mail")].state() == ClockState.MET

    # Reopened, the gateway decides again: now only the visit, whose clock starts.
    await handle.execute_update(
        TicketWorkflow.reopen, ReopenInput(actor=DESK, reason="call on site", stages=["sort"])
    )
    await work(handle, "sort", data={"mail": False, "phone": False, "visit": True})
    state = await until(handle, status_is("visit", TaskStatus.OPEN))
    assert (statuses(state)["mail"], statuses(state)["phone"]) == ("skipped", "skipped")
    assert state.clocks[stage_clock_id("visit")].state() == ClockState.RUNNING
    assert [e["taken"] for e in events(state, "gateway_decided")] == [
        ["mail", "phone"],
        ["visit"],
    ]
    await work(handle, "visit")
    await work(handle, "report")
    await until(handle, lambda s: s.status == TicketStatus.RESOLVED)


async def test_a_condition_too_costly_for_the_data_takes_the_default_and_the_ticket_moves_on(
    env: tuple[WorkflowEnvironment, Stack],
) -> None:
    _environment, stack = env
    definition = process(
        stage(
            "check",
            gateway=exclusive(
                ("urgent", "intake.parts.exists(a, intake.parts.exists(b, a == b + 1))"),
                default="normal",
            ),
            sla={"target": "PT1H"},
        ),
        stage("urgent"),
        stage("normal"),
    )
    handle = await file(stack, definition, {"parts": list(range(3000))})
    await work(handle, "check")
    state = await until(handle, status_is("normal", TaskStatus.OPEN))
    decided = events(state, "gateway_decided")[0]
    assert (decided["taken"], decided["default"]) == (["normal"], True)
    assert "steps on this data" in decided["error"]
    assert statuses(state)["urgent"] == "skipped"


# -- services that fail ---------------------------------------------------------------------------


def failing(**params: Any) -> ProcessDefinition:
    """A service that fails its first three calls (all its attempts), then a human stage."""
    return process(
        stage(
            "call",
            kind="service",
            group="ops",
            service=service(params={"fail_times": 3, **params}, retry=FAST_RETRY),
            sla={"target": "PT4H"},
        ),
        stage("after", depends_on=["call"]),
    )


async def test_a_service_that_exhausts_its_retries_becomes_a_task_and_a_retry_succeeds(
    env: tuple[WorkflowEnvironment, Stack],
) -> None:
    _environment, stack = env
    handle = await file(stack, failing(level=2))
    state = await until(handle, status_is("call", TaskStatus.OPEN))
    failed = events(state, "service_failed")[0]
    assert failed["attempts"] == 3
    assert failed["error"] == "Flaky: call 3 failed"
    assert state.tasks["call"].kind == "service"
    assert state.clocks[stage_clock_id("call")].state() == ClockState.RUNNING
    async with stack.sessions() as session:
        row = await session.scalar(
            select(TaskRow).where(TaskRow.ticket_key == handle.id, TaskRow.stage_key == "call")
        )
        assert row is not None
        assert (row.status, row.kind, row.group_name) == ("open", "service", "ops")

    await work(handle, "call", OPS, {"decision": "retry"})
    state = await until(handle, status_is("after", TaskStatus.OPEN))
    assert state.tasks["call"].data == {"level": 2, "calls": 4}
    assert events(state, "service_retried")[0]["by"] == "otto"
    assert state.clocks[stage_clock_id("call")].state() == ClockState.MET

    # Reopened, the service runs again at once (its test action fails only three times).
    await work(handle, "after")
    await until(handle, lambda s: s.status == TicketStatus.RESOLVED)
    await handle.execute_update(
        TicketWorkflow.reopen, ReopenInput(actor=DESK, reason="again", stages=["call"])
    )
    state = await until(
        handle, lambda s: s.tasks["after"].round == 2 and s.tasks["after"].status == TaskStatus.OPEN
    )
    assert (state.tasks["call"].round, state.tasks["call"].data) == (2, {"level": 2, "calls": 5})
    assert len(events(state, "service_completed")) == 2


async def test_a_failed_service_is_skipped_with_a_reason_and_a_refusal_is_not_retried(
    env: tuple[WorkflowEnvironment, Stack],
) -> None:
    _environment, stack = env
    handle = await file(stack, failing(refuse=True))
    state = await until(handle, status_is("call", TaskStatus.OPEN))
    failed = events(state, "service_failed")[0]
    assert failed["error"] == "ActionConfig: refused: bad configuration"
    assert failed["attempts"] is None
    assert CALLS[f"{handle.id}:call"] == 1  # non-retryable: one attempt only
    await work(handle, "call", OPS, {"decision": "skip", "reason": "CRM is retired"})
    state = await until(handle, status_is("after", TaskStatus.OPEN))
    assert state.tasks["call"].data == {"skipped": "CRM is retired"}
    assert events(state, "service_skipped")[0]["reason"] == "CRM is retired"
    assert "service_skipped" in await projected_types(stack, handle.id)


async def test_a_parameter_that_cannot_be_evaluated_fails_the_stage_not_the_ticket(
    env: tuple[WorkflowEnvironment, Stack],
) -> None:
    _environment, stack = env
    handle = await file(stack, failing(level="=intake.missing.deep"))
    state = await until(handle, status_is("call", TaskStatus.OPEN))
    failed = events(state, "service_failed")[0]
    assert failed["attempts"] == 0
    assert "cannot be evaluated" in failed["error"]
    assert CALLS[f"{handle.id}:call"] == 0


# -- waits ---------------------------------------------------------------------------------------

WAITING = process(
    stage(
        "part",
        kind="wait",
        wait={
            "signal": "external_update",
            "correlation": "signal.order == intake.order",
            "timeout": "PT2H",
            "on_timeout": "chase",
        },
        sla={"target": "PT1H"},
    ),
    stage("chase"),
    stage("install", depends_on=["part"]),
)


def signal(order: str, signal_id: str) -> ExternalEventInput:
    """The CRM says a part arrived for an order."""
    return ExternalEventInput(
        name="external_update", source="crm", payload={"order": order}, signal_id=signal_id
    )


async def test_a_wait_ends_on_its_signal_and_not_on_a_forged_one(
    env: tuple[WorkflowEnvironment, Stack],
) -> None:
    _environment, stack = env
    handle = await file(stack, WAITING, {"order": "PO-7"})
    await until(handle, status_is("part", TaskStatus.RUNNING))
    await handle.signal(TicketWorkflow.external_event, signal("PO-8", "s1"))
    state = await until(handle, lambda s: len(events(s, "external_event")) == 1)
    assert state.tasks["part"].status == TaskStatus.RUNNING  # recorded, matched nothing
    await handle.signal(TicketWorkflow.external_event, signal("PO-7", "s2"))
    state = await until(handle, status_is("install", TaskStatus.OPEN))
    assert state.tasks["part"].data == {"order": "PO-7"}
    assert events(state, "wait_matched")[0]["signal_id"] == "s2"
    assert statuses(state)["chase"] == "skipped"
    assert state.clocks[stage_clock_id("part")].state() == ClockState.MET


async def test_a_wait_that_times_out_takes_its_timeout_path_and_its_clock_breaches(
    env: tuple[WorkflowEnvironment, Stack],
) -> None:
    environment, stack = env
    handle = await file(stack, WAITING, {"order": "PO-7"})
    await until(handle, status_is("part", TaskStatus.RUNNING))
    await environment.sleep(timedelta(hours=2, minutes=1))
    state = await until(handle, status_is("chase", TaskStatus.OPEN))
    assert statuses(state)["install"] == "skipped"
    assert events(state, "wait_timed_out")[0]["signal"] == "external_update"
    assert state.clocks[stage_clock_id("part")].state() == ClockState.BREACHED
    # A late signal is recorded but ends nothing.
    await handle.signal(TicketWorkflow.external_event, signal("PO-7", "late"))
    state = await until(handle, lambda s: len(events(s, "external_event")) == 1)
    assert events(state, "wait_matched") == []
    await work(handle, "chase")
    await handle.execute_update(
        TicketWorkflow.reopen, ReopenInput(actor=DESK, reason="again", stages=["part"])
    )
    state = await until(handle, status_is("part", TaskStatus.RUNNING))
    assert state.tasks["part"].round == 2
    await handle.signal(TicketWorkflow.external_event, signal("PO-7", "s3"))
    await until(handle, status_is("install", TaskStatus.OPEN))


# -- timers --------------------------------------------------------------------------------------

WEEKDAYS = {d: ["09:00-17:00"] for d in ("mon", "tue", "wed", "thu", "fri")}


async def test_a_timer_on_a_business_calendar_sleeps_over_the_weekend(
    env: tuple[WorkflowEnvironment, Stack],
) -> None:
    environment, stack = env
    office = BusinessCalendar(key="office", version=1, timezone="UTC", hours=WEEKDAYS)
    definition = process(
        stage("start"),
        stage(
            "cool",
            kind="timer",
            depends_on=["start"],
            timer={"duration": "PT4H", "calendar": "office@1"},
            sla={"target": "PT5H", "calendar": "office@1"},
        ),
        stage("call_back", depends_on=["cool"]),
        calendars={"office@1": office.model_dump(mode="json")},
    )
    now = await environment.get_current_time()
    friday = now.date() + timedelta(days=(4 - now.date().weekday()) % 7 or 7)
    await environment.sleep(datetime(friday.year, friday.month, friday.day, 15, tzinfo=UTC) - now)
    handle = await file(stack, definition)
    await work(handle, "start")
    state = await until(handle, status_is("cool", TaskStatus.RUNNING))
    monday_eleven = datetime(friday.year, friday.month, friday.day, 11, tzinfo=UTC) + timedelta(
        days=3
    )
    assert state.tasks["cool"].until is not None
    assert abs(state.tasks["cool"].until - monday_eleven) < timedelta(minutes=1)
    await environment.sleep(timedelta(days=2, hours=12))  # Monday 03:00: still asleep
    state = await handle.query(TicketWorkflow.state)
    assert state.tasks["cool"].status == TaskStatus.RUNNING
    # Its clock counts office hours too: two of its five by Friday's close, none since.
    clock = state.clocks[stage_clock_id("cool")]
    assert clock.state() == ClockState.RUNNING
    elapsed = clock.elapsed_at(office, await environment.get_current_time())
    assert abs(elapsed - timedelta(hours=2)) < timedelta(minutes=1)
    await environment.sleep(timedelta(hours=9))
    state = await until(handle, status_is("call_back", TaskStatus.OPEN))
    fired = next(e for e in state.events if e.type == "timer_fired")
    assert fired.at >= state.tasks["cool"].until
    assert state.clocks[stage_clock_id("cool")].state() == ClockState.MET

    # Reopened on Monday at noon, it sleeps four office hours again: until 16:00.
    await work(handle, "call_back")
    await until(handle, lambda s: s.status == TicketStatus.RESOLVED)
    await handle.execute_update(
        TicketWorkflow.reopen, ReopenInput(actor=DESK, reason="again", stages=["cool"])
    )
    state = await until(handle, lambda s: s.tasks["cool"].round == 2)
    reopened_at = await environment.get_current_time()
    again = state.tasks["cool"].until
    assert again is not None
    assert abs(again - reopened_at - timedelta(hours=4)) < timedelta(minutes=1)
    await environment.sleep(timedelta(hours=4, minutes=1))
    await until(handle, lambda s: s.tasks["call_back"].round == 2)


# -- subprocesses --------------------------------------------------------------------------------

CARE = process(stage("call", group="desk"), key="care", key_prefix="CARE", title="Care")
PARENT = process(
    stage(
        "handover",
        kind="subprocess",
        subprocess={"definition": "care@1", "intake": {"order": "intake.order"}},
        sla={"target": "PT8H"},
        gateway=exclusive(("done", "stages.handover.data.status == 'closed'"), default="redo"),
    ),
    stage("done"),
    stage("redo"),
)


async def publish_care(stack: Stack) -> None:
    """Publish the child's definition, as the subprocess stage pins it."""
    async with stack.sessions() as session:
        await insert_definition(
            session=session, definition=CARE, published_by="root", now=datetime.now(UTC)
        )
        await session.commit()


async def child_of(stack: Stack, handle: Handle) -> tuple[Handle, TicketState]:
    """The parent's child ticket once it has started, and the parent's state then."""
    state = await until(handle, lambda s: s.tasks["handover"].child is not None)
    child_key = state.tasks["handover"].child
    assert child_key is not None
    child = stack.client.get_workflow_handle_for(TicketWorkflow.run, child_key)
    await until(child, lambda s: s.tasks["call"].status == TaskStatus.OPEN, "the child")
    return child, state


async def test_a_subprocess_runs_a_child_ticket_to_its_close(
    env: tuple[WorkflowEnvironment, Stack],
) -> None:
    _environment, stack = env
    await publish_care(stack)
    handle = await file(stack, PARENT, {"order": "PO-7"})
    child, state = await child_of(stack, handle)
    assert child.id == "CARE-000001"
    assert events(state, "subprocess_started")[0]["definition"] == "care@1"
    child_state = await child.query(TicketWorkflow.state)
    assert child_state.intake == {"order": "PO-7"}
    assert child_state.events[0].data["parent"] == {"key": handle.id, "stage": "handover"}
    await work(child, "call")
    await child.execute_update(TicketWorkflow.confirm, ConfirmInput(actor=REQUESTER))
    assert (await child.result()).status == TicketStatus.CLOSED
    state = await until(handle, status_is("done", TaskStatus.OPEN))
    assert events(state, "subprocess_closed")[0] == {
        **events(state, "subprocess_closed")[0],
        "child": "CARE-000001",
        "status": "closed",
    }
    assert state.clocks[stage_clock_id("handover")].state() == ClockState.MET
    await work(handle, "done")
    await until(handle, lambda s: s.status == TicketStatus.RESOLVED)
    await handle.execute_update(
        TicketWorkflow.reopen, ReopenInput(actor=DESK, reason="again", stages=["handover"])
    )
    again, _state = await child_of(stack, handle)
    assert again.id == "CARE-000002"  # a new round, a new child


async def test_a_cancelled_child_ends_its_stage_and_the_gateway_routes_on_it(
    env: tuple[WorkflowEnvironment, Stack],
) -> None:
    _environment, stack = env
    await publish_care(stack)
    handle = await file(stack, PARENT, {"order": "PO-7"})
    child, _state = await child_of(stack, handle)
    await child.execute_update(
        TicketWorkflow.cancel, CancelInput(actor=REQUESTER, reason="not needed")
    )
    state = await until(handle, status_is("redo", TaskStatus.OPEN))
    assert state.tasks["handover"].data == {"key": child.id, "status": "cancelled"}
    assert state.clocks[stage_clock_id("handover")].state() == ClockState.MET
    assert statuses(state)["done"] == "skipped"

    # Reopened, the stage starts a new child; this one closes and the other branch is taken.
    await work(handle, "redo")
    await until(handle, lambda s: s.status == TicketStatus.RESOLVED)
    await handle.execute_update(
        TicketWorkflow.reopen, ReopenInput(actor=DESK, reason="try again", stages=["handover"])
    )
    again, state = await child_of(stack, handle)
    assert again.id != child.id
    assert state.clocks[stage_clock_id("handover")].state() == ClockState.RUNNING
    await work(again, "call")
    await again.execute_update(TicketWorkflow.confirm, ConfirmInput(actor=REQUESTER))
    state = await until(handle, status_is("done", TaskStatus.OPEN))
    assert state.tasks["redo"].status == TaskStatus.SKIPPED


async def test_a_cancelled_parent_cancels_its_child(
    env: tuple[WorkflowEnvironment, Stack],
) -> None:
    _environment, stack = env
    await publish_care(stack)
    handle = await file(stack, PARENT, {"order": "PO-7"})
    child, _state = await child_of(stack, handle)
    await handle.execute_update(
        TicketWorkflow.cancel, CancelInput(actor=REQUESTER, reason="customer left")
    )
    assert (await child.result()).status == TicketStatus.CANCELLED
    child_state = await child.query(TicketWorkflow.state)
    assert child_state.tasks["call"].status == TaskStatus.CANCELLED
    assert events(child_state, "cancelled")[0]["reason"] == "the ticket's workflow was cancelled"
    parent = await handle.result()
    assert parent.status == TicketStatus.CANCELLED
    assert (await handle.query(TicketWorkflow.state)).tasks["handover"].status == (
        TaskStatus.CANCELLED
    )


async def test_a_subprocess_of_an_unpublished_definition_fails_its_stage(
    env: tuple[WorkflowEnvironment, Stack],
) -> None:
    _environment, stack = env
    handle = await file(stack, PARENT, {"order": "PO-7"})
    state = await until(handle, status_is("redo", TaskStatus.OPEN))
    closed = events(state, "subprocess_closed")[0]
    assert (closed["status"], closed["child"]) == ("failed", None)
    assert "no published definition care@1" in closed["error"]


async def test_cancelling_a_ticket_cancels_its_running_service_activity(
    env: tuple[WorkflowEnvironment, Stack],
) -> None:
    _environment, stack = env
    slow_retry = {"maximum_attempts": 5, "initial_interval": "PT1H"}
    definition = process(
        stage(
            "call",
            kind="service",
            service=service(params={"fail_times": 5}, retry=slow_retry),
            sla={"target": "PT4H"},
        )
    )
    handle = await file(stack, definition)
    await until(handle, lambda s: CALLS[f"{s.key}:call"] == 1)  # now backing off for an hour
    await handle.execute_update(
        TicketWorkflow.cancel, CancelInput(actor=REQUESTER, reason="not needed")
    )
    assert (await handle.result()).status == TicketStatus.CANCELLED
    state = await handle.query(TicketWorkflow.state)
    assert state.tasks["call"].status == TaskStatus.CANCELLED
    assert state.clocks[stage_clock_id("call")].state() == ClockState.CANCELLED
    history = await handle.fetch_history()
    kinds = {e.event_type for e in history.events}
    assert EventType.EVENT_TYPE_ACTIVITY_TASK_CANCEL_REQUESTED in kinds
    assert events(state, "service_failed") == []


async def test_cancelling_a_ticket_ends_its_running_wait_and_timer(
    env: tuple[WorkflowEnvironment, Stack],
) -> None:
    environment, stack = env
    definition = process(
        stage("part", kind="wait", wait={"signal": "external_update", "timeout": "PT2H"}),
        stage("cool", kind="timer", timer={"duration": "PT1H"}, sla={"target": "PT4H"}),
    )
    handle = await file(stack, definition)
    await until(handle, lambda s: statuses(s) == {"part": "running", "cool": "running"})
    await handle.execute_update(
        TicketWorkflow.cancel, CancelInput(actor=REQUESTER, reason="not needed")
    )
    assert (await handle.result()).status == TicketStatus.CANCELLED
    await environment.sleep(timedelta(hours=3))
    state = await handle.query(TicketWorkflow.state)
    assert statuses(state) == {"part": "cancelled", "cool": "cancelled"}
    assert state.clocks[stage_clock_id("cool")].state() == ClockState.CANCELLED
    assert events(state, "timer_fired") == events(state, "wait_timed_out") == []
