"""SLA clocks in TicketWorkflow on the time-skipping server: each test has its own clock."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from domain.calendars import BusinessCalendar
from domain.definitions import ProcessDefinition
from domain.messages import (
    ClaimInput,
    CompleteInput,
    PauseInput,
    ResumeInput,
    SetPriorityInput,
    StartTicketInput,
    TicketResult,
)
from domain.sla import ClockState, Priority
from domain.ticket import Actor, TaskStatus
from store.models import NotificationRow, SlaClockRow, SlaEventRow, TaskRow
from tests.builders import DESK, DEV, INCIDENT, OPS, REQUESTER, STAGE_DATA
from tests.dbutil import migrated_sessions, sqlite_url
from tests.temporal_env import dev_server_env, time_skipping_env
from tests.workflows.conftest import Stack
from workers.tickets import build_ticket_worker
from workflows.ticket import TicketWorkflow

Handle = WorkflowHandle[TicketWorkflow, TicketResult]
SHANGHAI = ZoneInfo("Asia/Shanghai")
OFFICE = {d: ["09:00-12:00", "13:00-18:00"] for d in ("mon", "tue", "wed", "thu", "fri")}


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[tuple[WorkflowEnvironment, Stack]]:
    """A time-skipping server of this test's own (SLA tests move its clock by days)."""
    environment = await time_skipping_env()
    queue = f"sla-{uuid.uuid4().hex[:8]}"
    try:
        async with (
            migrated_sessions(sqlite_url(tmp_path)) as sessions,
            build_ticket_worker(client=environment.client, task_queue=queue, sessions=sessions),
        ):
            yield environment, Stack(client=environment.client, task_queue=queue, sessions=sessions)
    finally:
        await environment.shutdown()


def local(*parts: int) -> datetime:
    """An instant on Shanghai wall-clock time."""
    return datetime(*parts, tzinfo=SHANGHAI)  # type: ignore[arg-type,misc]


async def skip_to(environment: WorkflowEnvironment, instant: datetime) -> None:
    """Move the test server's clock forward to `instant`."""
    now = await environment.get_current_time()
    assert instant > now, f"{instant} is not after the server's {now}"
    await environment.sleep(instant - now)


async def next_weekday(
    environment: WorkflowEnvironment, weekday: int, at: tuple[int, int]
) -> datetime:
    """The first given weekday (0 = Monday) at a Shanghai time, at least a day from now."""
    today = (await environment.get_current_time()).astimezone(SHANGHAI).date() + timedelta(days=1)
    day = today + timedelta(days=(weekday - today.weekday()) % 7)
    return local(day.year, day.month, day.day, *at)


def office(holidays: list[date] | None = None) -> BusinessCalendar:
    """Shanghai office hours with a lunch break, version 1."""
    return BusinessCalendar(
        key="office", version=1, timezone="Asia/Shanghai", hours=OFFICE, holidays=holidays or []
    )


def definition(
    *,
    sla: dict[str, Any] | None = None,
    stages: dict[str, dict[str, Any]] | None = None,
    calendar: BusinessCalendar | None = None,
) -> ProcessDefinition:
    """The incident definition with SLA policies on the ticket and on chosen stages."""
    document: dict[str, Any] = {**INCIDENT, "sla": sla}
    document["stages"] = [{**s, **(stages or {}).get(s["key"], {})} for s in INCIDENT["stages"]]
    if calendar is not None:
        document["calendars"] = {calendar.ref: calendar.model_dump(mode="json")}
    return ProcessDefinition.model_validate(document)


async def start(stack: Stack, d: ProcessDefinition, priority: Priority = "P3") -> Handle:
    """Start a ticket of this definition."""
    key = f"INC-{uuid.uuid4().hex[:6]}"
    return await stack.client.start_workflow(
        TicketWorkflow.run,
        StartTicketInput(
            key=key,
            definition=d,
            intake={"title": "VPN down"},
            requester=REQUESTER,
            priority=priority,
        ),
        id=key,
        task_queue=stack.task_queue,
    )


async def work(handle: Handle, stage: str, who: Actor) -> None:
    """Claim and complete a stage."""
    await handle.execute_update(TicketWorkflow.claim, ClaimInput(stage_key=stage, actor=who))
    await handle.execute_update(
        TicketWorkflow.complete, CompleteInput(stage_key=stage, actor=who, data=STAGE_DATA[stage])
    )


async def sla_events(stack: Stack, key: str, type_: str | None = None) -> list[SlaEventRow]:
    """The ticket's projected SLA events, in order."""
    query = select(SlaEventRow).where(SlaEventRow.ticket_key == key)
    if type_:
        query = query.where(SlaEventRow.type == type_)
    async with stack.sessions() as session:
        return list((await session.scalars(query.order_by(SlaEventRow.seq))).all())


async def clock_row(stack: Stack, key: str, clock_id: str) -> SlaClockRow:
    """The projected row of one clock."""
    async with stack.sessions() as session:
        row = await session.get(SlaClockRow, (key, clock_id))
    assert row is not None
    return row


NOTIFY_DESK = {"type": "notify", "recipients": ["assignee", "group:service-desk"]}


async def test_a_p2_ticket_from_friday_evening_escalates_after_the_monday_holiday(
    env: tuple[WorkflowEnvironment, Stack],
) -> None:
    environment, stack = env
    friday = await next_weekday(environment, 4, (17, 30))
    monday = friday.date() + timedelta(days=3)
    calendar = office(holidays=[monday])
    d = definition(
        calendar=calendar,
        sla={
            "targets": {"P1": "PT4H", "P2": "PT8H"},
            "target": "PT16H",
            "calendar": calendar.ref,
            "ladder": [
                {"name": "half", "at_fraction": 0.5, "actions": [NOTIFY_DESK]},
                {
                    "name": "breach",
                    "at_fraction": 1.0,
                    "actions": [
                        {"type": "notify", "recipients": ["role:manager", "requester"]},
                        {"type": "escalate", "group": "cto-office"},
                    ],
                },
            ],
        },
    )
    await skip_to(environment, friday)
    handle = await start(stack, d, priority="P2")
    # The server's clock moved on a little while the ticket started; deadlines move with it.
    drift = (await handle.query(TicketWorkflow.state)).clocks["ticket"].started_at - friday
    assert timedelta(0) <= drift < timedelta(minutes=1)
    tuesday = friday + timedelta(days=4)
    # 30 min on Friday, nothing on the weekend or the Monday holiday, then Tuesday.
    half = tuesday.replace(hour=13, minute=30) + drift  # 0.5 h + 3 h morning + 0.5 h
    full = tuesday.replace(hour=17, minute=30) + drift
    await skip_to(environment, tuesday.replace(hour=12, minute=0))
    assert await sla_events(stack, handle.id, "sla_rung_fired") == []
    await skip_to(environment, tuesday.replace(hour=19, minute=0))

    fired = await sla_events(stack, handle.id, "sla_rung_fired")
    assert [(e.rung, e.due_at) for e in fired] == [(0, half), (1, full)]
    for event in fired:
        assert event.due_at is not None
        assert timedelta(0) <= event.at - event.due_at < timedelta(seconds=1)
    breached = await sla_events(stack, handle.id, "sla_breached")
    assert [e.due_at for e in breached] == [full]

    row = await clock_row(stack, handle.id, "ticket")
    assert row.state == ClockState.BREACHED.value
    assert row.fired == [0, 1]
    async with stack.sessions() as session:
        notes = (
            await session.scalars(
                select(NotificationRow).where(NotificationRow.ticket_key == handle.id)
            )
        ).all()
        follow_up = (
            await session.scalars(select(TaskRow).where(TaskRow.group_name == "cto-office"))
        ).all()
    by_seq: dict[int, set[str]] = {}
    for note in notes:
        by_seq.setdefault(note.seq, set()).add(note.recipient)
        assert (note.channel, note.status) == ("none", "recorded")
    assert sorted(by_seq.values(), key=len) == [
        {"group:service-desk"},  # the unclaimed ticket's `assignee` is its department
        {"role:manager", "user:rita", "group:cto-office"},
    ]
    assert [(t.status, t.ticket_key) for t in follow_up] == [("open", handle.id)]
    # Each firing recorded its notifications with its projection: no local activity of its own.
    history = await handle.fetch_history()
    assert not [
        e
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED
        and b"record_notifications" in e.SerializeToString()
    ]

    # Fired rungs stay fired: more time passing fires nothing again.
    await environment.sleep(timedelta(days=3))
    assert len(await sla_events(stack, handle.id, "sla_rung_fired")) == 2


async def test_a_pause_over_the_weekend_adds_nothing(
    env: tuple[WorkflowEnvironment, Stack],
) -> None:
    environment, stack = env
    friday = await next_weekday(environment, 4, (10, 0))
    calendar = office()
    d = definition(
        calendar=calendar,
        sla={"target": "PT8H", "calendar": calendar.ref, "pause_when": ["customer"]},
    )
    await skip_to(environment, friday)
    handle = await start(stack, d)
    drift = (await handle.query(TicketWorkflow.state)).clocks["ticket"].started_at - friday
    monday = friday + timedelta(days=3)
    await skip_to(environment, friday.replace(hour=18, minute=30))
    await handle.execute_update(
        TicketWorkflow.pause, PauseInput(actor=DESK, reason="customer", note="asked for logs")
    )
    paused = await clock_row(stack, handle.id, "ticket")
    assert paused.state == ClockState.PAUSED.value
    assert paused.elapsed_seconds == 7 * 3600 - drift.total_seconds()
    await skip_to(environment, monday.replace(hour=8, minute=30))
    await handle.execute_update(TicketWorkflow.resume, ResumeInput(actor=DESK))
    resumed = await clock_row(stack, handle.id, "ticket")
    assert (resumed.state, resumed.paused_seconds) == (ClockState.RUNNING.value, 0)
    await skip_to(environment, monday.replace(hour=11))
    # Friday 10:00 + 8 business hours is Monday 10:00, with or without that pause.
    assert [e.due_at for e in await sla_events(stack, handle.id, "sla_breached")] == [
        monday.replace(hour=10) + drift
    ]


async def test_completing_a_stage_before_half_its_target_fires_nothing(
    env: tuple[WorkflowEnvironment, Stack],
) -> None:
    environment, stack = env
    ladder = [
        {"at_fraction": 0.5, "actions": [NOTIFY_DESK]},
        {"at_fraction": 1.0, "actions": [{"type": "escalate", "group": "cto-office"}]},
    ]
    d = definition(stages={"triage": {"sla": {"target": "PT1H", "ladder": ladder}}})
    handle = await start(stack, d)
    await environment.sleep(timedelta(minutes=20))
    await work(handle, "triage", DESK)
    await environment.sleep(timedelta(hours=5))
    assert await sla_events(stack, handle.id, "sla_rung_fired") == []
    row = await clock_row(stack, handle.id, "stage:triage")
    assert row.state == ClockState.MET.value
    assert 20 * 60 <= row.elapsed_seconds < 21 * 60
    async with stack.sessions() as session:
        assert (await session.scalars(select(NotificationRow))).all() == []


async def test_a_priority_change_midway_moves_the_deadline_keeping_elapsed_and_paused_time(
    env: tuple[WorkflowEnvironment, Stack],
) -> None:
    environment, stack = env
    d = definition(
        sla={"targets": {"P1": "PT4H", "P2": "PT8H"}, "target": "PT24H", "pause_when": ["supplier"]}
    )
    handle = await start(stack, d, priority="P2")
    t0 = (await handle.query(TicketWorkflow.state)).clocks["ticket"].started_at
    await environment.sleep(timedelta(hours=2))
    await handle.execute_update(TicketWorkflow.pause, PauseInput(actor=OPS, reason="supplier"))
    await environment.sleep(timedelta(hours=1))
    await handle.execute_update(TicketWorkflow.resume, ResumeInput(actor=OPS))
    await environment.sleep(timedelta(minutes=30))
    await handle.execute_update(
        TicketWorkflow.set_priority, SetPriorityInput(actor=DESK, priority="P1", reason="CEO")
    )
    retargeted = await sla_events(stack, handle.id, "sla_retargeted")
    # 2.5 h counted, 1 h paused: 1.5 h left of the P1 target (give or take the milliseconds
    # the server's clock moved while the Updates ran).
    assert len(retargeted) == 1
    assert retargeted[0].due_at is not None
    assert abs(retargeted[0].due_at - (t0 + timedelta(hours=5))) < timedelta(seconds=1)
    await environment.sleep(timedelta(hours=3))
    row = await clock_row(stack, handle.id, "ticket")
    assert row.target_seconds == 4 * 3600
    assert row.paused_seconds == pytest.approx(3600, abs=1)
    breached = await sla_events(stack, handle.id, "sla_breached")
    assert [e.due_at for e in breached] == [retargeted[0].due_at]


async def test_parallel_departments_clocks_run_independently_under_the_joint_clock(
    env: tuple[WorkflowEnvironment, Stack],
) -> None:
    environment, stack = env
    d = definition(
        sla={"target": "PT10H"},
        stages={
            "diagnose": {"sla": {"target": "PT2H"}, "milestone": True},
            "fix": {"sla": {"target": "PT3H"}, "milestone": True},
        },
    )
    handle = await start(stack, d)
    await work(handle, "triage", DESK)
    await environment.sleep(timedelta(hours=1))
    await work(handle, "diagnose", OPS)
    await environment.sleep(timedelta(hours=3))
    await work(handle, "fix", DEV)
    await work(handle, "verify", DESK)

    diagnose = await clock_row(stack, handle.id, "stage:diagnose")
    fix = await clock_row(stack, handle.id, "stage:fix")
    joint = await clock_row(stack, handle.id, "ticket")
    assert diagnose.state == "met"
    assert diagnose.elapsed_seconds == pytest.approx(3600, abs=1)
    assert fix.state == "breached"
    assert fix.elapsed_seconds == pytest.approx(4 * 3600, abs=1)
    assert fix.breached_at is not None
    assert fix.breached_at - fix.started_at == timedelta(hours=3)
    assert joint.state == "met"
    assert joint.elapsed_seconds >= 4 * 3600
    assert joint.started_at <= diagnose.started_at
    assert joint.stopped_at is not None
    assert fix.stopped_at is not None
    assert joint.stopped_at >= fix.stopped_at
    state = await handle.query(TicketWorkflow.state)
    assert state.tasks["fix"].status == TaskStatus.DONE


async def test_a_rung_due_while_no_worker_runs_fires_once_when_workers_return(
    tmp_path: Path,
) -> None:
    # The dev server, on real time: its workers' stickiness expires as it would in production.
    environment = await dev_server_env()
    try:
        async with migrated_sessions(sqlite_url(tmp_path)) as sessions:
            queue = f"sla-{uuid.uuid4().hex[:8]}"
            stack = Stack(client=environment.client, task_queue=queue, sessions=sessions)
            ladder = [{"at_fraction": 0.5, "actions": [NOTIFY_DESK]}]
            d = definition(sla={"target": "PT3S", "ladder": ladder})
            async with build_ticket_worker(
                client=environment.client, task_queue=queue, sessions=sessions
            ):
                handle = await start(stack, d)
                due = (await handle.query(TicketWorkflow.state)).clocks["ticket"].started_at
            await asyncio.sleep(2.5)  # the rung falls due with no worker running
            assert await sla_events(stack, handle.id, "sla_rung_fired") == []
            # Each new worker has no cache: it rebuilds the ticket by replaying its history,
            # the timer the first worker armed included, and must fire the rung only once.
            for _ in range(2):
                async with build_ticket_worker(
                    client=environment.client, task_queue=queue, sessions=sessions
                ):
                    for _ in range(100):
                        if await sla_events(stack, handle.id, "sla_breached"):
                            break
                        await asyncio.sleep(0.1)
                    await handle.query(TicketWorkflow.state)
            fired = await sla_events(stack, handle.id, "sla_rung_fired")
            assert [(e.rung, e.due_at) for e in fired] == [(0, due + timedelta(seconds=1.5))]
            async with sessions() as session:
                notes = (await session.scalars(select(NotificationRow))).all()
            assert [n.recipient for n in notes] == ["group:service-desk"]
    finally:
        await environment.shutdown()


async def test_changes_that_leave_the_next_due_instant_keep_the_timer(
    env: tuple[WorkflowEnvironment, Stack],
) -> None:
    _environment, stack = env
    d = definition(
        sla={
            "target": "PT8H",
            "calendar": "24x7",
            "pause_when": ["customer"],
            "ladder": [{"name": "half", "at_fraction": 0.5, "actions": [NOTIFY_DESK]}],
        }
    )
    handle = await start(stack, d)

    async def timers() -> tuple[int, int]:
        events = (await handle.fetch_history()).events
        kinds = [e.WhichOneof("attributes") for e in events]
        return (
            kinds.count("timer_started_event_attributes"),
            kinds.count("timer_canceled_event_attributes"),
        )

    await handle.execute_update(TicketWorkflow.claim, ClaimInput(stage_key="triage", actor=DESK))
    assert await timers() == (1, 0)
    # Completing triage opens two stages but moves nothing on the ticket's clock.
    await handle.execute_update(
        TicketWorkflow.complete,
        CompleteInput(stage_key="triage", actor=DESK, data=STAGE_DATA["triage"]),
    )
    assert await timers() == (1, 0)
    # Waiting for the customer pauses the clock: its due instant moves, so the timer goes.
    await handle.execute_update(
        TicketWorkflow.pause, PauseInput(actor=DESK, reason="customer", note="")
    )
    assert await timers() == (1, 1)
