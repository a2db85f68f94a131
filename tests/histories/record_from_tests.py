"""Record the histories of workflows the suite's own tests drive to their end.

Run: `python -m tests.histories.record_from_tests [NAME ...] [--force]`.

Every workflow type and every stage kind needs a recorded history (test_replay.py says so).
Rather than a second driver per workflow, this runs the tests named in SCENARIOS, which
already drive each one to its end on a real Temporal server, under a pytest plugin that notes
each workflow a client starts (start, signal-with-start, update-with-start). Before each
Temporal server stops, the plugin fetches the histories of those workflows and of the children
they started, and keeps for each wanted name the history that ended best (completed first):
a name is a workflow type, or `TicketWorkflow-<kind>` for a ticket whose definition has a
stage of that kind (or a gateway).
Each is saved as tests/histories/<name>.json; a name some recorded history covers already is
not recorded again unless --force (see record.py: old histories are what prove that workflows
started under old code still run).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Coroutine
from functools import wraps
from pathlib import Path
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHistory
from temporalio.client._impl import _ClientImpl
from temporalio.testing import WorkflowEnvironment

from domain.messages import TICKET_WORKFLOW
from tests.histories.record import HISTORY_DIR

_STAGES = "tests/workflows/test_automated_stages.py::"
_GATEWAY = f"{_STAGES}test_an_exclusive_gateway_after_a_flaky_service_and_its_join_then_reopen"
# The test (a module or one test's node id) that drives each name's workflow to its end.
SCENARIOS: dict[str, str] = {
    "CareWorkflow": "tests/workflows/test_care_workflow.py",
    "DeviceAlarmsWorkflow": "tests/workflows/test_device_alarms_workflow.py",
    "DeviceSnapshotWorkflow": "tests/workflows/test_device_snapshot.py",
    "ProblemScanWorkflow": "tests/workflows/test_problem_scan.py",
    "RecurrenceSweepWorkflow": "tests/workflows/test_recurrence_watch.py",
    "RecurrenceWatchWorkflow": "tests/workflows/test_recurrence_watch.py",
    "CustomerSentimentWorkflow": "tests/workflows/test_sentiment_workflow.py",
    "SiteDevicesWorkflow": "tests/workflows/test_device_alarms.py",
    "SubscriptionWorkflow": "tests/api/test_subscriptions_api.py::"
    "test_events_arrive_signed_redacted_once_each_and_in_order_after_an_outage[sqlite]",
    "TriageRetrainWorkflow": "tests/workflows/test_triage_retrain.py",
    "TicketWorkflow-service": f"{_GATEWAY}",
    "TicketWorkflow-gateway": f"{_GATEWAY}",
    "TicketWorkflow-wait": f"{_STAGES}test_a_wait_ends_on_its_signal_and_not_on_a_forged_one",
    "TicketWorkflow-timer": f"{_STAGES}test_a_timer_on_a_business_calendar_sleeps_over_the_weekend",
    "TicketWorkflow-subprocess": f"{_STAGES}test_a_subprocess_runs_a_child_ticket_to_its_close",
}
# How a history ended, best first: a subscription's workflow never completes (its tests
# terminate it), a long-lived one may continue as new; one still running (a test that stops
# once its stage is proven) comes last, and replays as far as it got.
ENDINGS = [
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED,
]


def stage_kinds(history: WorkflowHistory) -> set[str]:
    """The stage kinds of the definition a ticket's history started with (plain JSON input),
    and `gateway` when a stage has one."""
    started = history.events[0].workflow_execution_started_event_attributes
    try:
        stages = json.loads(started.input.payloads[0].data)["definition"]["stages"]
    except (IndexError, KeyError, ValueError):
        return set()
    kinds = {stage.get("kind", "task") for stage in stages}
    return kinds | ({"gateway"} if any(stage.get("gateway") for stage in stages) else set())


def names_of(history: WorkflowHistory) -> set[str]:
    """The names a history covers: its workflow type, and for tickets `TicketWorkflow-<kind>`."""
    kind = history.events[0].workflow_execution_started_event_attributes.workflow_type.name
    if kind == TICKET_WORKFLOW:
        return {kind} | {f"{kind}-{stage}" for stage in stage_kinds(history)}
    return {kind}


def load(path: Path) -> WorkflowHistory:
    """A recorded history; its file is named after the workflow id or what it covers."""
    return WorkflowHistory.from_json(path.stem, path.read_text())


def recorded_names() -> set[str]:
    """Every name the histories in HISTORY_DIR cover."""
    return {name for path in HISTORY_DIR.glob("*.json") for name in names_of(load(path))}


class Collector:
    """The workflows clients started, and the histories kept under each wanted name."""

    def __init__(self, wanted: set[str]) -> None:
        self.wanted = wanted
        self.started: list[tuple[Client, str]] = []
        self.kept: dict[str, tuple[int, str]] = {}

    async def harvest(self) -> None:
        """Keep the first closed history of each wanted name among those started so far."""
        seen: set[str] = set()
        todo, self.started = self.started, []
        while todo:
            client, workflow_id = todo.pop(0)
            if workflow_id in seen:
                continue
            seen.add(workflow_id)
            try:
                history = await client.get_workflow_handle(workflow_id).fetch_history()
            except Exception:  # a server already gone has nothing to give
                continue
            for event in history.events:
                if event.event_type == EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_STARTED:
                    child = event.child_workflow_execution_started_event_attributes
                    todo.append((client, child.workflow_execution.workflow_id))
            if not history.events:
                continue
            last = history.events[-1].event_type
            rank = ENDINGS.index(last) if last in ENDINGS else len(ENDINGS)
            for name in names_of(history) & self.wanted:
                if name not in self.kept or rank < self.kept[name][0]:
                    self.kept[name] = (rank, history.to_json())


def _noting(
    collector: Collector,
    method: Callable[..., Coroutine[Any, Any, Any]],
    workflow_id: Callable[[Any], str],
) -> Callable[..., Coroutine[Any, Any, Any]]:
    @wraps(method)
    async def noted(self: _ClientImpl, input: Any) -> Any:
        collector.started.append((self._client, workflow_id(input)))
        return await method(self, input)

    return noted


class Plugin:
    """Notes started workflows; harvests their histories before each server shuts down."""

    def __init__(self, collector: Collector) -> None:
        self.collector = collector

    def pytest_configure(self, config: pytest.Config) -> None:
        """Patch the client's start calls and the environments' shutdown (this run only)."""
        collector = self.collector
        _ClientImpl.start_workflow = _noting(  # type: ignore[method-assign]
            collector, _ClientImpl.start_workflow, lambda i: i.id
        )
        _ClientImpl.start_update_with_start_workflow = _noting(  # type: ignore[method-assign]
            collector,
            _ClientImpl.start_update_with_start_workflow,
            lambda i: i.start_workflow_input.id,
        )
        for env_class in _environment_classes():
            shutdown = vars(env_class)["shutdown"]

            async def harvested(self: WorkflowEnvironment, _shutdown: Any = shutdown) -> None:
                await collector.harvest()
                await _shutdown(self)

            env_class.shutdown = harvested  # type: ignore[method-assign]


def _environment_classes() -> list[Any]:
    from temporalio.testing import _workflow

    return [
        cls
        for cls in vars(_workflow).values()
        if isinstance(cls, type)
        and issubclass(cls, WorkflowEnvironment)
        and "shutdown" in vars(cls)
    ]


def record(wanted: set[str], *, force: bool) -> int:
    """Run the scenarios of `wanted` and save each history they yield."""
    if not force:
        wanted -= recorded_names()
    targets = {name: HISTORY_DIR / f"{name}.json" for name in wanted}
    if not targets:
        sys.stderr.write("every history is recorded already (--force records them again)\n")
        return 0
    collector = Collector(set(targets))
    files = sorted({SCENARIOS[name] for name in targets})
    pytest.main(["-q", "-p", "no:cacheprovider", *files], plugins=[Plugin(collector)])
    for name, path in sorted(targets.items()):
        if name in collector.kept:
            path.write_text(collector.kept[name][1] + "\n")
            sys.stderr.write(f"wrote {path}\n")
        else:
            sys.stderr.write(f"no closed history of {name} in {SCENARIOS[name]}\n")
    return 0 if set(targets) <= set(collector.kept) else 1


def main(argv: list[str] | None = None) -> int:
    """Record the histories named (default: every one in SCENARIOS not yet recorded)."""
    parser = argparse.ArgumentParser(
        prog="python -m tests.histories.record_from_tests", description=__doc__
    )
    parser.add_argument("names", nargs="*", help=f"default: all of {', '.join(SCENARIOS)}")
    parser.add_argument("--force", action="store_true", help="overwrite existing histories")
    args = parser.parse_args(argv)
    unknown = set(args.names) - set(SCENARIOS)
    if unknown:
        parser.error(f"no scenario for {', '.join(sorted(unknown))}")
    return record(set(args.names or SCENARIOS), force=args.force)


if __name__ == "__main__":
    raise SystemExit(main())
