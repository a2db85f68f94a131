"""Recorded histories replay against the current workflows (see tests/histories).

There is one for every workflow type and every stage kind of the process language: a new
type or kind fails test_every_workflow_type_and_stage_kind_has_a_recorded_history until one is
recorded (tests/histories/record_from_tests.py).
"""

from __future__ import annotations

import importlib
import json
import pkgutil
from datetime import timedelta
from pathlib import Path
from typing import Any, get_args

import pytest
from temporalio import workflow
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer
from temporalio.workflow import NondeterminismError

import workflows
from domain.definitions import StageKind
from domain.git_commits import GIT_COMMIT_SIGNAL
from domain.messages import TICKET_WORKFLOW, StartTicketInput, TicketResult
from domain.triage import DUPLICATE_SIGNAL
from tests.dbutil import sqlite_url
from tests.histories.record import HISTORY_DIR, SLA_WORKFLOW_ID, WORKFLOW_ID, record_full_life
from tests.histories.record_deliverables import WORKFLOW_ID as DELIVERABLES_WORKFLOW_ID
from tests.histories.record_deliverables import record_deliverables
from tests.histories.record_from_tests import SCENARIOS, load, recorded_names
from tests.histories.record_git_commits import WORKFLOW_ID as GIT_COMMITS_WORKFLOW_ID
from tests.histories.record_git_commits import record_git_commits
from tests.histories.record_triage import WORKFLOW_ID as TRIAGE_WORKFLOW_ID
from ticketflow.temporal_client import DATA_CONVERTER
from workflows.ticket import (
    DELIVERABLES_PATCH,
    GIT_COMMITS_PATCH,
    RECURRENCE_IN_PROJECTION_PATCH,
    RECURRENCE_PATCH,
    TicketWorkflow,
)

HISTORIES = sorted(HISTORY_DIR.glob("*.json"))
FULL_LIFE = HISTORY_DIR / f"{WORKFLOW_ID}.json"
SLA_LADDER = HISTORY_DIR / f"{SLA_WORKFLOW_ID}.json"
TRIAGE_LIFE = HISTORY_DIR / f"{TRIAGE_WORKFLOW_ID}.json"
DELIVERABLES_LIFE = HISTORY_DIR / f"{DELIVERABLES_WORKFLOW_ID}.json"
GIT_COMMITS_LIFE = HISTORY_DIR / f"{GIT_COMMITS_WORKFLOW_ID}.json"
# Recorded before `recurrence-in-projection`: a close that started its watch workflow, and a
# recurrence that signalled it (tests/workflows/test_recurrence_watch.py as it was then).
WATCH_WORKFLOW_CLOSE = HISTORY_DIR / "HD-closed-with-watch-workflow.json"
WATCH_WORKFLOW_SIGNAL = HISTORY_DIR / "HD-recurrence-signalling-its-watch.json"


# Unsandboxed: the sandbox would re-import this test module, and with it SQLAlchemy's models.
@workflow.defn(name=TICKET_WORKFLOW, sandboxed=False)
class TimerFirstTicketWorkflow(TicketWorkflow):
    """TicketWorkflow with one deliberate non-deterministic change, to prove replay catches it."""

    @workflow.run
    async def run(self, start: StartTicketInput) -> TicketResult:
        """Start a timer the recorded histories never saw, then behave as TicketWorkflow."""
        # Deliberately non-deterministic: no recorded history has a timer before the first
        # projection activity, so replaying any of them must fail on this command.
        await workflow.sleep(timedelta(seconds=1))
        return await super().run(start)


def _workflow_classes() -> dict[str, type]:
    """Every workflow class of the workflows package, by its workflow type name."""
    found = {}
    for module in pkgutil.iter_modules(workflows.__path__):
        for value in vars(importlib.import_module(f"workflows.{module.name}")).values():
            definition = isinstance(value, type) and workflow._Definition.from_class(value)
            if definition and value.__module__ == f"workflows.{module.name}":
                found[definition.name] = value
    return found


WORKFLOWS = _workflow_classes()


async def replay(history: WorkflowHistory, *workflow_classes: type) -> None:
    """Replay one history on a worker that knows these workflow classes (default: all)."""
    replayer = Replayer(
        workflows=list(workflow_classes or WORKFLOWS.values()), data_converter=DATA_CONVERTER
    )
    await replayer.replay_workflow(history)


def test_every_workflow_type_and_stage_kind_has_a_recorded_history() -> None:
    assert len(WORKFLOWS) >= 10  # the discovery found the package's workflows
    wanted = set(WORKFLOWS) | {f"{TICKET_WORKFLOW}-{kind}" for kind in get_args(StageKind)}
    wanted.add(f"{TICKET_WORKFLOW}-gateway")
    missing = wanted - recorded_names()
    assert not missing, (
        f"no recorded history of {sorted(missing)}: add a scenario to "
        "tests/histories/record_from_tests.py and run it"
    )
    assert (wanted - {f"{TICKET_WORKFLOW}-task"}) <= set(SCENARIOS) | {TICKET_WORKFLOW}


def test_a_full_life_history_is_recorded() -> None:
    assert FULL_LIFE in HISTORIES
    events = load(FULL_LIFE).events
    updates = {
        e.workflow_execution_update_accepted_event_attributes.accepted_request.input.name
        for e in events
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
    }
    assert {"opened", "claim", "complete", "reassign", "comment", "reopen", "confirm"} <= updates
    kinds = {e.event_type for e in events}
    assert EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED in kinds
    assert events[-1].event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
async def test_recorded_history_replays(path: Path) -> None:
    await replay(load(path))


async def test_replay_catches_a_non_deterministic_change() -> None:
    with pytest.raises(NondeterminismError):
        await replay(load(FULL_LIFE), TimerFirstTicketWorkflow)


async def test_recorder_still_records_a_replayable_full_life(tmp_path: Path) -> None:
    recorded = await record_full_life(
        workflow_id="INC-rerecorded", database_url=sqlite_url(tmp_path)
    )
    await replay(WorkflowHistory.from_json("INC-rerecorded", recorded), TicketWorkflow)


def test_an_sla_history_with_fired_rungs_is_recorded() -> None:
    events = load(SLA_LADDER).events
    timers = [e for e in events if e.event_type == EventType.EVENT_TYPE_TIMER_FIRED]
    assert len(timers) >= 3  # three rungs (and the breach) woke the workflow on durable timers
    markers = [
        e.SerializeToString()
        for e in events
        if e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED
    ]
    # Two rungs notify: each records its notifications with one local activity.
    assert sum(b"record_notifications" in m for m in markers) == 2
    updates = {
        e.workflow_execution_update_accepted_event_attributes.accepted_request.input.name
        for e in events
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
    }
    assert {"pause", "resume", "set_priority"} <= updates


async def test_recorder_still_records_a_replayable_sla_ladder(tmp_path: Path) -> None:
    recorded = await record_full_life(
        workflow_id="INC-sla-rerecorded", database_url=sqlite_url(tmp_path), sla=True
    )
    await replay(WorkflowHistory.from_json("INC-sla-rerecorded", recorded), TicketWorkflow)


def test_a_triage_history_is_recorded() -> None:
    events = load(TRIAGE_LIFE).events
    updates = {
        e.workflow_execution_update_accepted_event_attributes.accepted_request.input.name
        for e in events
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
    }
    assert {"dispatch", "claim", "complete", "confirm"} <= updates
    signals = {
        e.workflow_execution_signaled_event_attributes.signal_name
        for e in events
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED
    }
    assert DUPLICATE_SIGNAL in signals
    assert events[-1].event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED


def _patches(events: list[Any]) -> list[str]:
    return [
        json.loads(payload.data)["id"]
        for e in events
        if e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED
        and e.marker_recorded_event_attributes.marker_name == "core_patch"
        for payload in e.marker_recorded_event_attributes.details["patch-data"].payloads
    ]


def test_a_git_commits_history_is_recorded_behind_its_patch() -> None:
    events = load(GIT_COMMITS_LIFE).events
    signals = [
        e.workflow_execution_signaled_event_attributes.signal_name
        for e in events
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED
    ]
    assert signals == [GIT_COMMIT_SIGNAL] * 3  # a commit, its redelivery, another commit
    assert GIT_COMMITS_PATCH in _patches(list(events))
    assert events[-1].event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED


async def test_recorder_still_records_a_replayable_git_commits_life(tmp_path: Path) -> None:
    recorded = await record_git_commits(workflow_id="NET-git-commits-again", data_dir=tmp_path)
    await replay(WorkflowHistory.from_json("NET-git-commits-again", recorded), TicketWorkflow)


def test_a_deliverables_history_is_recorded_behind_its_patch() -> None:
    events = load(DELIVERABLES_LIFE).events
    updates = {
        e.workflow_execution_update_accepted_event_attributes.accepted_request.input.name
        for e in events
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
    }
    assert {"attach_deliverable", "amend_contract", "complete", "confirm"} <= updates
    assert DELIVERABLES_PATCH in _patches(list(events))
    assert events[-1].event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED


async def test_recorder_still_records_a_replayable_deliverables_life(tmp_path: Path) -> None:
    recorded = await record_deliverables(workflow_id="NET-deliverables-again", data_dir=tmp_path)
    await replay(WorkflowHistory.from_json("NET-deliverables-again", recorded), TicketWorkflow)


def test_histories_of_watch_workflows_from_before_the_projection_path_are_recorded() -> None:
    for path in (WATCH_WORKFLOW_CLOSE, WATCH_WORKFLOW_SIGNAL):
        events = list(load(path).events)
        activities = {
            e.activity_task_scheduled_event_attributes.activity_type.name
            for e in events
            if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
        }
        assert activities == {"start_recurrence_watch"}
        assert RECURRENCE_PATCH in _patches(events)
        assert RECURRENCE_IN_PROJECTION_PATCH not in _patches(events)
        assert events[-1].event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED
    signalled = {e.event_type for e in load(WATCH_WORKFLOW_SIGNAL).events}
    assert EventType.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED in signalled
