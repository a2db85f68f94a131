"""A ticket's audit history from Temporal: every run's history, replayed and decoded."""

from __future__ import annotations

import contextvars
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from google.protobuf.json_format import MessageToDict, ParseDict
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio import workflow
from temporalio.api.common.v1 import Payload
from temporalio.client import Client, WorkflowHistory
from temporalio.converter import DataConverter
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import (
    HandleSignalInput,
    Interceptor,
    Replayer,
    StartLocalActivityInput,
    UnsandboxedWorkflowRunner,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
    WorkflowOutboundInterceptor,
)

from domain.history import Cause, Difference, HistoryEntry, merge_runs, reconcile
from domain.messages import PROJECT_ACTIVITY, ProjectionInput
from domain.ticket import TicketEvent
from store import tickets as store
from workflows.ticket import TicketWorkflow

# The Signal whose handler is running, in the handler's own task (and tasks it starts).
_SIGNAL: contextvars.ContextVar[Cause | None] = contextvars.ContextVar("signal", default=None)


class TicketNotInTemporal(Exception):
    """Temporal has no workflow for this ticket key."""


class HistoryDoesNotReplay(Exception):
    """A run's history does not replay on this version of the workflow code."""


@dataclass
class Run:
    """One run of a ticket's workflow and its history."""

    run_id: str
    history: WorkflowHistory


async def ticket_runs(*, client: Client, key: str) -> list[Run]:
    """Every run of the ticket's workflow, first to latest, following continue-as-new back."""
    try:
        run_id: str | None = (await client.get_workflow_handle(key).describe()).run_id
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise TicketNotInTemporal(key) from exc
        raise
    runs: list[Run] = []
    while run_id:
        history = await client.get_workflow_handle(key, run_id=run_id).fetch_history()
        runs.append(Run(run_id=run_id, history=history))
        started = history.events[0].workflow_execution_started_event_attributes
        run_id = started.continued_execution_run_id or None
    return runs[::-1]


def _cause(projection: ProjectionInput) -> Cause:
    update = workflow.current_update_info()
    if update is not None:
        return Cause(kind="update", id=update.id, name=update.name)
    signal = _SIGNAL.get()
    if signal is not None:
        return signal
    if any(e.type == "created" for e in projection.events):
        return Cause(kind="start", id=workflow.info().run_id)
    return Cause(kind="workflow")


def _capturing(captured: list[HistoryEntry]) -> Interceptor:
    """An interceptor that keeps each projection's events with what caused them."""

    class Outbound(WorkflowOutboundInterceptor):
        def start_local_activity(self, input: StartLocalActivityInput) -> Any:
            if input.activity == PROJECT_ACTIVITY and input.args:
                projection = input.args[0]
                assert isinstance(projection, ProjectionInput)
                cause = _cause(projection)
                run_id = workflow.info().run_id
                captured.extend(
                    HistoryEntry(event=e.model_copy(deep=True), run_id=run_id, cause=cause)
                    for e in projection.events
                )
            return super().start_local_activity(input)

    class Inbound(WorkflowInboundInterceptor):
        def init(self, outbound: WorkflowOutboundInterceptor) -> None:
            super().init(Outbound(outbound))

        async def handle_signal(self, input: HandleSignalInput) -> None:
            arg = input.args[0] if input.args else None
            _SIGNAL.set(Cause(kind="signal", id=getattr(arg, "signal_id", ""), name=input.signal))
            await super().handle_signal(input)

    class Capture(Interceptor):
        def workflow_interceptor_class(
            self, input: WorkflowInterceptorClassInput
        ) -> type[WorkflowInboundInterceptor]:
            return Inbound

    return Capture()


async def replayed_entries(*, runs: list[Run], data_converter: DataConverter) -> list[HistoryEntry]:
    """The business events every run recorded, rebuilt by replaying its history.

    A projection is a local activity, whose input Temporal does not store: replaying the run on
    the workflow code sees each projection's input again, with the Update or Signal under way.
    """
    per_run: list[list[HistoryEntry]] = []
    for run in runs:
        captured: list[HistoryEntry] = []
        replayer = Replayer(
            workflows=[TicketWorkflow],
            data_converter=data_converter,
            interceptors=[_capturing(captured)],
            # Reading only: nothing runs for real, and the unsandboxed runner lets the
            # interceptor hand the inputs out.
            workflow_runner=UnsandboxedWorkflowRunner(),
        )
        result = await replayer.replay_workflow(run.history, raise_on_replay_failure=False)
        if result.replay_failure is not None:
            raise HistoryDoesNotReplay(f"run {run.run_id}: {result.replay_failure}")
        per_run.append(captured)
    return merge_runs(per_run)


async def _decoded(value: Any, data_converter: DataConverter) -> Any:
    if isinstance(value, dict):
        if set(value) == {"payloads"} and isinstance(value["payloads"], list):
            payloads = [ParseDict(p, Payload()) for p in value["payloads"]]
            return await data_converter.decode(payloads)
        return {k: await _decoded(v, data_converter) for k, v in value.items()}
    if isinstance(value, list):
        return [await _decoded(v, data_converter) for v in value]
    return value


async def raw_history(*, runs: list[Run], data_converter: DataConverter) -> list[dict[str, Any]]:
    """Every run's Temporal events as JSON, each payload decoded with the data converter."""
    return [
        {
            "run_id": run.run_id,
            "events": [
                await _decoded(MessageToDict(event), data_converter) for event in run.history.events
            ],
        }
        for run in runs
    ]


def child_keys(entries: list[HistoryEntry]) -> list[str]:
    """The child tickets the timeline started (subprocess stages), in order."""
    found = [e.event.data.get("child") for e in entries if e.event.type == "subprocess_started"]
    return [k for k in found if isinstance(k, str)]


async def reconcile_ticket(
    *, session: AsyncSession, client: Client, key: str, data_converter: DataConverter
) -> list[Difference]:
    """Where the ticket's SQL timeline and its Temporal history disagree (empty: they agree)."""
    runs = await ticket_runs(client=client, key=key)
    entries = await replayed_entries(runs=runs, data_converter=data_converter)
    rows = await store.list_all_events(session=session, key=key)
    sql = [TicketEvent(seq=r.seq, type=r.type, at=r.at, actor=r.actor, data=r.data) for r in rows]
    return reconcile(key, sql, [e.event for e in entries])


async def reconcile_since(
    *, session: AsyncSession, client: Client, since: datetime, data_converter: DataConverter
) -> list[Difference]:
    """Every difference over the tickets created at or after `since`."""
    found: list[Difference] = []
    for key in await store.ticket_keys_since(session=session, since=since):
        try:
            found += await reconcile_ticket(
                session=session, client=client, key=key, data_converter=data_converter
            )
        except TicketNotInTemporal:
            found.append(Difference(ticket=key, seq=0, kind="missing_in_history"))
    return found
