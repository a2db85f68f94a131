"""TicketWorkflow: interprets a process definition snapshot for one ticket, durably."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributePair, TypedSearchAttributes
from temporalio.exceptions import (
    ActivityError,
    ApplicationError,
    ChildWorkflowError,
    FailureError,
    RetryState,
    WorkflowAlreadyStartedError,
)

with workflow.unsafe.imports_passed_through():
    from domain import sla_clocks
    from domain.actions import ActionInput, ActionOutput, action_activity, reads_device
    from domain.care_flow import (
        CARE_PREPARE_ACTIVITY,
        CARE_WORKFLOW,
        CareInput,
        CarePrepared,
        CarePrepareInput,
        care_workflow_id,
        intake_customer,
        ticket_context,
    )
    from domain.definitions import RetrySpec
    from domain.deliverables import StageContract
    from domain.device_evidence import (
        DEVICE_LOOKUP_ACTIVITY,
        DEVICE_NOT_FOUND,
        DEVICE_SNAPSHOT_TAKEN,
        LOOKUP_TIMEOUT,
        DeviceLookupInput,
        intake_device,
        snapshot_target,
    )
    from domain.device_reading import unreachable_snapshot
    from domain.device_snapshot import (
        DEVICE_SNAPSHOT_WORKFLOW,
        DeviceSnapshotInput,
        DeviceSnapshotResult,
        snapshot_workflow_id,
    )
    from domain.devices import Device, Snapshot
    from domain.expressions import ExpressionError
    from domain.git_commits import GIT_COMMIT_SIGNAL, GitCommitInput
    from domain.messages import (
        CHILD_TICKET_ACTIVITY,
        EXTERNAL_SIGNAL,
        PROJECT_ACTIVITY,
        TICKET_WORKFLOW,
        AmendContractInput,
        AttachDeliverableInput,
        CancelInput,
        ChildTicket,
        ChildTicketInput,
        ClaimInput,
        CommentInput,
        CompleteInput,
        ConfirmInput,
        ExpediteDecisionInput,
        ExternalEventInput,
        PauseInput,
        ProjectionInput,
        ProjectionResult,
        ReassignInput,
        ReopenInput,
        ResumeInput,
        SetPriorityInput,
        StartTicketInput,
        TicketResult,
        TransitionResult,
        UnclaimInput,
        WithdrawInput,
    )
    from domain.notifications import NOTIFY_ACTIVITY, NotifyInput, NotifyResult
    from domain.participation import Participant, participants_in
    from domain.recurrence import (
        RECURRED_SIGNAL,
        START_WATCH_ACTIVITY,
        RecurredInput,
        RecurrenceRef,
        RecurrenceWatchInput,
        WatchStarted,
        filed_category,
        fingerprint_of,
        watch_workflow_id,
    )
    from domain.sentiment import (
        EXPEDITE_PATCH,
        EXPEDITE_SIGNAL,
        EXPEDITE_WITHDRAW_SIGNAL,
        ExpediteSignal,
        RevokedInput,
    )
    from domain.ticket import (
        FINAL_TICKET,
        Actor,
        ParentRef,
        Task,
        TaskStatus,
        TicketEvent,
        TicketRuleError,
        TicketState,
        TicketStatus,
    )
    from domain.triage import (
        DUPLICATE_SIGNAL,
        TRIAGE_ACTIVITY,
        DispatchInput,
        DuplicateReportInput,
        TriageResult,
    )
    from domain.triage_routing import (
        apply_triage,
        check_dispatch,
        check_dispatch_priority,
        dispatch,
        dispatch_priority,
        model_priority,
        record_duplicate,
        triage_input,
    )
    from workflows import search_attributes as sa

T = TypeVar("T")

# Business failures carry these type names; the API maps them to HTTP statuses.
ERROR_TYPES = {
    "not_found": "TicketNotFound",
    "conflict": "TicketConflict",
    "invalid": "TicketInvalidInput",
    "forbidden": "TicketForbidden",
}

# The projection and the notification records are small idempotent writes (per ticket and
# seq) that the SQL views depend on: a busy or unreachable database is retried with backoff and
# without limit, since the write must land eventually.
IDEMPOTENT_WRITE_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
)
# One small transaction: a worker that died mid-write is retried after this, not later.
PROJECTION_TIMEOUT = timedelta(seconds=10)
NOTIFY_TIMEOUT = timedelta(seconds=10)
EVENTS_CARRIED_OVER = 50

# Inference takes milliseconds; a model load after a promotion takes seconds.
TRIAGE_TIMEOUT = timedelta(seconds=60)
# Triage is advice: after these attempts the ticket goes to a dispatcher instead of waiting.
TRIAGE_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_attempts=3)

# Marks runs that start automated stages; histories recorded before them have none.
AUTOMATED_STAGES_PATCH = "automated-stages"
# Marks runs whose completions hold their stage's deliverable contract; before it, none did.
DELIVERABLES_PATCH = "deliverable-contracts"
# Reserving a child's key is one small idempotent write, retried like the projection.
CHILD_TICKET_TIMEOUT = timedelta(seconds=30)
MIN_ACTION_TIMEOUT = timedelta(seconds=1)
# Marks runs that take device snapshots (at creation for an intake's device, and for
# `device.snapshot` stages); histories recorded before them have none.
DEVICE_EVIDENCE_PATCH = "device-evidence"
# A task stage with `snapshot_on_claim` reads the intake's device each time its task is claimed.
CLAIM_SNAPSHOT_PATCH = "claim-snapshot"
# Marks runs that take pushed git commits as deliverables; histories before it had no handler.
GIT_COMMITS_PATCH = "git-commits"
# Marks runs that watch a closed ticket for 30 days and tell a closed ticket's watch that a
# new one recurs it; histories recorded before them do neither.
RECURRENCE_PATCH = "recurrence-watch"
# Marks runs whose projections record the watch: its start with the close, a recurrence with
# the new ticket's creation (the sweep records the rest). Before it, the close started a watch
# workflow and a recurrence signalled it.
RECURRENCE_IN_PROJECTION_PATCH = "recurrence-in-projection"
# Starting the watch is one call to the Temporal server, idempotent by its workflow id.
START_WATCH_TIMEOUT = timedelta(seconds=30)
# Reading the registry at creation: a short read retried a few times; a device not registered
# (or a registry that stays unreadable) means no creation snapshot, never a stuck ticket.
LOOKUP_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_attempts=3,
    non_retryable_error_types=[DEVICE_NOT_FOUND],
)
SYSTEM_ACTOR = Actor(user="system", role="system")
# Marks runs that record what a late-woken SLA clock finds due in the order it fell due;
# before it, a breach came before the rungs due earlier than it.
SLA_DUE_ORDER_PATCH = "sla-due-order"
# Marks runs whose SLA firings record their notifications with the firing's projection, one
# local activity and one transaction; before it, a second local activity recorded them.
SLA_NOTIFY_WITH_PROJECTION_PATCH = "sla-notify-with-projection"
# Marks runs that start the customer's care at close; histories recorded before it have none.
CARE_PATCH = "care"
# Reading the customer at close: a short read retried a few times; should it keep failing, the
# ticket closes without care rather than never completing.
CARE_PREPARE_TIMEOUT = timedelta(seconds=30)
CARE_PREPARE_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_attempts=5)


def _rule_error(exc: TicketRuleError) -> ApplicationError:
    return ApplicationError(
        exc.message,
        {"problems": [p.model_dump() for p in exc.problems]},
        type=ERROR_TYPES[exc.kind],
        non_retryable=True,
    )


def _retry_policy(spec: RetrySpec, non_retryable: tuple[str, ...] = ()) -> RetryPolicy:
    """A service stage's retry policy, as its definition bounds it."""
    # Temporal refuses the whole workflow task for a maximum below the initial interval: a
    # definition that says so waits the initial interval each time instead.
    return RetryPolicy(
        initial_interval=spec.initial_interval,
        backoff_coefficient=spec.backoff_coefficient,
        maximum_interval=max(spec.maximum_interval, spec.initial_interval),
        maximum_attempts=spec.maximum_attempts,
        non_retryable_error_types=list(non_retryable) or None,
    )


def _failure_text(exc: FailureError) -> str:
    """What went wrong in an activity or child, for the stage's event and task."""
    cause = exc.cause or exc
    if isinstance(cause, ApplicationError) and cause.type:
        return f"{cause.type}: {cause.message}"
    return str(cause)


def _checked(check: Callable[[], T]) -> T:
    """Run a domain check, turning a rule violation into a business ApplicationError."""
    try:
        return check()
    except TicketRuleError as exc:
        raise _rule_error(exc) from None


@workflow.defn(name=TICKET_WORKFLOW)
class TicketWorkflow:
    """One ticket: opens a task per ready stage, resolves, then closes on confirmation."""

    @workflow.init
    def __init__(self, start: StartTicketInput) -> None:
        if start.resume is not None:
            self._state = start.resume
            self._unprojected: list[TicketEvent] = []
        else:
            self._state = TicketState.create(
                key=start.key,
                definition=start.definition,
                intake=start.intake,
                requester=start.requester,
                now=workflow.now(),
                priority=start.priority,
                parent=start.parent,
                recurrence_of=start.recurrence_of,
            )
            self._unprojected = list(self._state.events)
        self._creation_projected = start.resume is not None
        self._published: tuple[str, str, tuple[str, ...]] | None = None
        # Participants already sent to the projection in this run: each is written once.
        self._recorded_participants: set[Participant] = set()
        # One coroutine per automated stage under way, by stage key, with its round; and what
        # it waits on that must be told when the ticket is cancelled (an activity or a child).
        self._runners: dict[str, tuple[int, asyncio.Task[None]]] = {}
        self._in_flight: dict[str, asyncio.Task[Any]] = {}
        # Device reads started by a claim, which the claim's caller does not wait for.
        self._claim_reads: set[asyncio.Task[None]] = set()
        self._recording = 0
        # Set once a projection carried the watch's start (the close) or the recurrence (the
        # creation): the older paths after them then do nothing.
        self._watch_projected = False
        self._recurrence_projected = False
        # The SLA timer stays until the next due instant itself moves.
        self._next_due = sla_clocks.next_due(self._state)

    @workflow.run
    async def run(self, start: StartTicketInput) -> TicketResult:
        """Drive the ticket until it is closed or cancelled."""
        state = self._state
        try:
            await self._drive(start)
        except asyncio.CancelledError:
            # Cancelled through Temporal (a parent's cancel reaches its child this way): the
            # ticket is cancelled as if by its rules, so its timeline and rows say so.
            if state.status in FINAL_TICKET:
                raise
            await self._record(
                state.cancel(SYSTEM_ACTOR, "the ticket's workflow was cancelled", workflow.now())
            )
        # A final ticket takes no more evidence.
        for read in self._claim_reads:
            read.cancel()
        if state.status == TicketStatus.CLOSED:
            await self._start_recurrence_watch()
        await self._start_care()
        await workflow.wait_condition(lambda: workflow.all_handlers_finished() and self._idle())
        return TicketResult(key=state.key, status=state.status, last_seq=state.last_seq)

    async def _drive(self, start: StartTicketInput) -> None:
        state = self._state
        # Automated stages carried over by continue-as-new start waiting again here.
        self._sync_automated()
        await self._record(self._unprojected)
        self._creation_projected = True
        if start.resume is None:
            await self._tell_recurred()
            await self._intake_snapshot()
        if start.resume is None and state.definition.triage is not None:
            await self._triage()
        while state.status not in FINAL_TICKET:
            if state.status == TicketStatus.RESOLVED:
                await self._await_confirmation()
                continue
            await self._run_clocks_until_change()
            if state.status == TicketStatus.OPEN and self._continue_as_new_due():
                await self._continue_as_new(start)

    async def _start_care(self) -> None:
        """Start the customer's care (a child that outlives the ticket) once the ticket closed.

        Only for definitions that opt in and intakes that name a customer; the ticket's own
        workflow completes as soon as the child has started.
        """
        state = self._state
        care = state.definition.care
        customer_id = intake_customer(state.intake)
        if (
            state.status != TicketStatus.CLOSED
            or state.closed_at is None
            or care is None
            or care.snapshot is None
            or customer_id is None
            or not workflow.patched(CARE_PATCH)
        ):
            return
        try:
            prepared = await workflow.execute_activity(
                CARE_PREPARE_ACTIVITY,
                CarePrepareInput(ticket_key=state.key, customer_id=customer_id),
                result_type=CarePrepared,
                start_to_close_timeout=CARE_PREPARE_TIMEOUT,
                retry_policy=CARE_PREPARE_RETRY,
            )
        except ActivityError:
            return
        if prepared.customer is None:
            return
        context = ticket_context(state.key, state.definition.key, state.intake, state.events)
        try:
            await workflow.start_child_workflow(
                CARE_WORKFLOW,
                CareInput(
                    ticket=context,
                    customer=prepared.customer,
                    strategy=care.snapshot,
                    closed_at=state.closed_at,
                    department=prepared.department,
                    confirm_within=prepared.confirm_within,
                ),
                id=care_workflow_id(state.key),
                parent_close_policy=workflow.ParentClosePolicy.ABANDON,
            )
        except WorkflowAlreadyStartedError:
            return  # a care workflow of this ticket runs already

    async def _start_recurrence_watch(self) -> None:
        """Have the closed ticket watched for 30 days by a workflow of its own, as runs did
        before their close's projection recorded the watch.

        Started by an activity, not as a child: this workflow ends at close, as it always has,
        and a child outliving a closed parent would have its end reported to nobody (the
        time-skipping test server stops skipping time when that happens).
        """
        state = self._state
        if self._watch_projected or not workflow.patched(RECURRENCE_PATCH):
            return
        assert state.closed_at is not None
        found = fingerprint_of(state.intake, filed_category(state.definition.key))
        await workflow.execute_activity(
            START_WATCH_ACTIVITY,
            RecurrenceWatchInput(
                ticket_key=state.key,
                closed_at=state.closed_at,
                fingerprint=found.digest if found is not None else None,
            ),
            result_type=WatchStarted,
            start_to_close_timeout=START_WATCH_TIMEOUT,
            retry_policy=IDEMPOTENT_WRITE_RETRY,
        )

    async def _tell_recurred(self) -> None:
        """A recurrence tells the closed ticket's watch workflow, which records it there, as
        runs did before their creation's projection recorded it."""
        ref = self._state.recurrence_of
        if ref is None or self._recurrence_projected or not workflow.patched(RECURRENCE_PATCH):
            return
        watch = workflow.get_external_workflow_handle(watch_workflow_id(ref.key))
        try:
            await watch.signal(RECURRED_SIGNAL, RecurredInput(by=self._state.key))
        except FailureError:
            # The watch ended meanwhile (its 30 days were over): this ticket still says what
            # it recurs, the closed one's outcome stands.
            workflow.logger.info("the recurrence watch of %s has ended", ref.key)

    def _idle(self) -> bool:
        """No projection is being written."""
        return self._recording == 0

    async def _intake_snapshot(self) -> None:
        """Read the device the intake names, before triage, and record the snapshot taken."""
        state = self._state
        if intake_device(state.intake) is None or not workflow.patched(DEVICE_EVIDENCE_PATCH):
            return
        device = await self._intake_device()
        if device is None:
            return
        snapshot = await self._read_device(device, "intake")
        if state.status == TicketStatus.OPEN:
            await self._record([state.intake_snapshot_taken(snapshot, workflow.now())], snapshot)

    async def _intake_device(self) -> Device | None:
        """The registered device the intake names, or None when it names none or it is gone."""
        device_id = intake_device(self._state.intake)
        if device_id is None:
            return None
        try:
            device: Device = await workflow.execute_activity(
                DEVICE_LOOKUP_ACTIVITY,
                DeviceLookupInput(ticket_key=self._state.key, device_id=device_id),
                result_type=Device,
                start_to_close_timeout=LOOKUP_TIMEOUT,
                retry_policy=LOOKUP_RETRY,
            )
        except ActivityError:
            # Filing refuses an unregistered device; only a registry reset gets here.
            return None
        return device

    def _start_claim_snapshot(self, stage_key: str) -> None:
        """Read the intake's device for a stage just claimed, without holding up the claim."""
        state = self._state
        if (
            stage_key not in state.tasks  # a follow-up has no stage of its own
            or not state.definition.stage(stage_key).snapshot_on_claim
            or intake_device(state.intake) is None
            or not workflow.patched(CLAIM_SNAPSHOT_PATCH)
        ):
            return
        read = asyncio.create_task(self._claim_snapshot(stage_key, f"claim:{state.last_seq}"))
        self._claim_reads.add(read)
        read.add_done_callback(self._claim_reads.discard)

    async def _claim_snapshot(self, stage_key: str, nonce: str) -> None:
        state = self._state
        device = await self._intake_device()
        if device is None:
            return
        snapshot = await self._read_device(device, nonce)
        if state.status == TicketStatus.OPEN:
            await self._record(
                [state.claim_snapshot_taken(stage_key, snapshot, workflow.now())], snapshot
            )

    async def _read_device(self, device: Device, nonce: str) -> Snapshot:
        """The device's snapshot, read on its edge queue by a `DeviceSnapshotWorkflow` child.

        The child always answers a snapshot (the all-bad one when no attempt read the device);
        should the child itself fail, the all-bad one stands in here too. `nonce` tells this
        ticket's reads apart in the child's workflow id.
        """
        try:
            handle = await workflow.start_child_workflow(
                DEVICE_SNAPSHOT_WORKFLOW,
                DeviceSnapshotInput(device=device),
                result_type=DeviceSnapshotResult,
                id=snapshot_workflow_id(device.id, f"{self._state.key}:{nonce}"),
                parent_close_policy=workflow.ParentClosePolicy.REQUEST_CANCEL,
            )
            result: DeviceSnapshotResult = await handle
        except (ChildWorkflowError, WorkflowAlreadyStartedError) as exc:
            return unreachable_snapshot(device, taken_at=workflow.now(), error=_failure_text(exc))
        return result.snapshot

    async def _triage(self) -> None:
        """Ask the model; route when it is sure, else leave the work with the dispatcher."""
        ticket = triage_input(self._state)
        try:
            result = await workflow.execute_activity(
                TRIAGE_ACTIVITY,
                ticket,
                result_type=TriageResult,
                start_to_close_timeout=TRIAGE_TIMEOUT,
                retry_policy=TRIAGE_RETRY,
            )
        except ActivityError as exc:
            result = TriageResult(error=f"triage failed: {exc.cause or exc}")
        now = workflow.now()
        events = apply_triage(self._state, ticket, result, now)
        await self._record([*events, *model_priority(self._state, events[0], now)])

    async def _await_confirmation(self) -> None:
        state = self._state
        deadline = state.confirmation_deadline
        assert deadline is not None
        try:
            await workflow.wait_condition(
                lambda: state.status != TicketStatus.RESOLVED,
                timeout=max(deadline - workflow.now(), timedelta(0)),
            )
        except TimeoutError:
            await self._record(state.close_unconfirmed(workflow.now()))

    async def _run_clocks_until_change(self) -> None:
        """Sleep on one durable timer until the next rung or breach, or until the ticket changes."""
        state = self._state
        due = sla_clocks.next_due(state)

        def woken() -> bool:
            moved = self._next_due != due
            return state.status != TicketStatus.OPEN or self._continue_as_new_due() or moved

        if due is not None and due > workflow.now():
            try:
                await workflow.wait_condition(woken, timeout=due - workflow.now())
                return
            except TimeoutError:
                pass
        elif due is None:
            await workflow.wait_condition(woken)
            return
        firing = sla_clocks.fire_due(
            state, workflow.now(), in_due_order=workflow.patched(SLA_DUE_ORDER_PATCH)
        )
        if firing.notifications and workflow.patched(SLA_NOTIFY_WITH_PROJECTION_PATCH):
            await self._record(firing.events, notifications=firing.notifications)
            return
        await self._record(firing.events)
        for batch in firing.notifications:
            # Recording is one short idempotent insert, like the projection: as a local
            # activity it runs in the same workflow task as the firing, not in another one.
            await workflow.execute_local_activity(
                NOTIFY_ACTIVITY,
                batch,
                result_type=NotifyResult,
                start_to_close_timeout=NOTIFY_TIMEOUT,
                retry_policy=IDEMPOTENT_WRITE_RETRY,
            )

    def _continue_as_new_due(self) -> bool:
        # An activity or child in flight belongs to this run: a service would run twice and
        # a child would be cancelled with it (its parent-close policy). Waits and timers carry
        # their `until` over and start again.
        return (
            workflow.info().is_continue_as_new_suggested()
            and not self._in_flight
            and not self._claim_reads
        )

    async def _continue_as_new(self, start: StartTicketInput) -> None:
        await workflow.wait_condition(lambda: workflow.all_handlers_finished() and self._idle())
        carried = self._state.model_copy(
            update={"events": self._state.events[-EVENTS_CARRIED_OVER:]}
        )
        workflow.continue_as_new(start.model_copy(update={"resume": carried}))

    async def _record(
        self,
        events: list[TicketEvent],
        evidence: Snapshot | None = None,
        notifications: list[NotifyInput] | None = None,
    ) -> None:
        """Publish search attributes and project the events with the ticket as it stands now.

        `evidence` is the snapshot the events' `device_snapshot_taken` records: the projection
        stores it with the ticket; `notifications`, those the events cause, are recorded with it.
        """
        if not events:
            return
        events = [*events, *sla_clocks.sync_clocks(self._state, workflow.now())]
        self._next_due = sla_clocks.next_due(self._state)
        self._sync_automated()
        clocks = list(self._state.clocks.values())
        participants = participants_in((e.type, e.actor, e.data) for e in events)
        participants -= self._recorded_participants
        self._recorded_participants |= participants
        self._publish_search_attributes()
        # A deep copy: the snapshot shares task objects with the live state, which later
        # handlers keep changing while this call waits.
        projection = ProjectionInput(
            ticket=self._state.snapshot(),
            events=events,
            clocks=clocks,
            participants=sorted(participants),
            snapshots={e.seq: evidence for e in events if e.type == DEVICE_SNAPSHOT_TAKEN}
            if evidence is not None
            else {},
            notifications=notifications or [],
            recurrence_watch=self._recurrence_watch(events),
            recurs=self._recurs(events),
        ).model_copy(deep=True)
        # A short idempotent write: as a local activity it runs inside the workflow task
        # that accepted the Update, so the caller's answer needs one round trip, not two.
        self._recording += 1
        try:
            await workflow.execute_local_activity(
                PROJECT_ACTIVITY,
                projection,
                result_type=ProjectionResult,
                start_to_close_timeout=PROJECTION_TIMEOUT,
                retry_policy=IDEMPOTENT_WRITE_RETRY,
            )
        finally:
            self._recording -= 1

    def _recurrence_watch(self, events: list[TicketEvent]) -> RecurrenceWatchInput | None:
        """The watch the close among these events starts, recorded by its projection."""
        state = self._state
        if (
            state.status != TicketStatus.CLOSED
            or state.closed_at is None
            or all(e.type != "closed" for e in events)
            or not workflow.patched(RECURRENCE_IN_PROJECTION_PATCH)
        ):
            return None
        self._watch_projected = True
        found = fingerprint_of(state.intake, filed_category(state.definition.key))
        return RecurrenceWatchInput(
            ticket_key=state.key,
            closed_at=state.closed_at,
            fingerprint=found.digest if found is not None else None,
        )

    def _recurs(self, events: list[TicketEvent]) -> RecurrenceRef | None:
        """The closed ticket this one recurs, when these events are its creation's."""
        ref = self._state.recurrence_of
        if (
            ref is None
            or all(e.type != "recurrence_of" for e in events)
            or not workflow.patched(RECURRENCE_IN_PROJECTION_PATCH)
        ):
            return None
        self._recurrence_projected = True
        return ref

    def _publish_search_attributes(self) -> None:
        values = (
            self._state.status.value,
            self._state.definition.key,
            tuple(self._state.active_groups()),
        )
        if values == self._published:
            return
        self._published = values
        workflow.upsert_search_attributes(
            [
                sa.TICKET_STATE.value_set(values[0]),
                sa.TICKET_DEFINITION.value_set(values[1]),
                sa.TICKET_DEPARTMENTS.value_set(list(values[2])),
            ]
        )

    # -- automated stages: one coroutine each, beside the run loop -----------------------------

    def _sync_automated(self) -> None:
        """Start a coroutine for each automated stage that became running; stop them on cancel."""
        state = self._state
        if state.status == TicketStatus.CANCELLED:
            for waiting in self._in_flight.values():
                waiting.cancel()
            return
        for task in state.tasks.values():
            if task.status != TaskStatus.RUNNING:
                continue
            current = self._runners.get(task.stage_key)
            if current is not None and current[0] == task.round and not current[1].done():
                continue
            if not workflow.patched(AUTOMATED_STAGES_PATCH):
                return
            runner = asyncio.create_task(self._run_stage(task.stage_key, task.round))
            self._runners[task.stage_key] = (task.round, runner)

    def _still_running(self, key: str, round_: int) -> bool:
        task = self._state.tasks[key]
        return (
            self._state.status == TicketStatus.OPEN
            and task.round == round_
            and task.status == TaskStatus.RUNNING
        )

    def _forget(self, key: str) -> None:
        """The calling coroutine no longer runs this stage (a newer one may, after a reopen)."""
        entry = self._runners.get(key)
        if entry is not None and entry[1] is asyncio.current_task():
            del self._runners[key]

    async def _report(
        self,
        key: str,
        round_: int,
        change: Callable[[], list[TicketEvent]],
        evidence: Snapshot | None = None,
    ) -> None:
        """Apply how a stage's run ended, unless the ticket moved on meanwhile (cancelled)."""
        # From here this coroutine only records: the stage may run again at once (a retry).
        self._forget(key)
        self._in_flight.pop(key, None)
        if self._still_running(key, round_):
            await self._record(change(), evidence)

    async def _run_stage(self, key: str, round_: int) -> None:
        kind = self._state.tasks[key].kind
        if kind == "service":
            await self._run_service(key, round_)
        elif kind == "wait":
            await self._run_wait(key, round_)
        elif kind == "timer":
            await self._run_timer(key, round_)
        else:
            await self._run_subprocess(key, round_)

    async def _run_service(self, key: str, round_: int) -> None:
        state = self._state
        spec = state.definition.stage(key).service
        assert spec is not None
        try:
            call = state.service_input(key)
        except ExpressionError as exc:
            error = f"a parameter cannot be evaluated: {exc}"
            await self._report(
                key, round_, lambda: [state.service_failed(key, error, 0, workflow.now())]
            )
            return
        if reads_device(spec.action) and workflow.patched(DEVICE_EVIDENCE_PATCH):
            await self._run_snapshot(key, round_, call)
            return
        activity = workflow.start_activity(
            action_activity(spec.action),
            call,
            result_type=ActionOutput,
            # A zero timeout would make Temporal refuse the workflow task (publishing bounds it).
            start_to_close_timeout=max(spec.timeout, MIN_ACTION_TIMEOUT),
            retry_policy=_retry_policy(spec.retry),
        )
        self._in_flight[key] = activity
        try:
            result = await activity
        except asyncio.CancelledError:
            return  # the ticket was cancelled
        except ActivityError as exc:
            exhausted = exc.retry_state == RetryState.MAXIMUM_ATTEMPTS_REACHED
            # A non-retryable failure stops early; how many attempts it took is not reported.
            attempts = spec.retry.maximum_attempts if exhausted else None
            error = _failure_text(exc)
            await self._report(
                key, round_, lambda: [state.service_failed(key, error, attempts, workflow.now())]
            )
            return
        await self._report(
            key, round_, lambda: state.service_completed(key, result.output, workflow.now())
        )

    async def _run_snapshot(self, key: str, round_: int, call: ActionInput) -> None:
        """A `device.snapshot` stage: the lookup under the stage's policy, then the read.

        The stage fails into its group's queue only when the device cannot be named or found;
        an unreachable device completes it with the all-bad snapshot.
        """
        state = self._state
        spec = state.definition.stage(key).service
        assert spec is not None
        try:
            lookup = workflow.start_activity(
                DEVICE_LOOKUP_ACTIVITY,
                DeviceLookupInput(ticket_key=state.key, device_id=snapshot_target(call.params)),
                result_type=Device,
                start_to_close_timeout=max(spec.timeout, MIN_ACTION_TIMEOUT),
                retry_policy=_retry_policy(spec.retry, (DEVICE_NOT_FOUND,)),
            )
            self._in_flight[key] = lookup
            device = await lookup
        except asyncio.CancelledError:
            return  # the ticket was cancelled
        except (ValueError, ActivityError) as exc:
            exhausted = isinstance(exc, ActivityError) and (
                exc.retry_state == RetryState.MAXIMUM_ATTEMPTS_REACHED
            )
            attempts = spec.retry.maximum_attempts if exhausted else None
            error = _failure_text(exc) if isinstance(exc, ActivityError) else str(exc)
            await self._report(
                key, round_, lambda: [state.service_failed(key, error, attempts, workflow.now())]
            )
            return
        nonce = f"{key}:{round_}:{state.last_seq}"
        reading = asyncio.ensure_future(self._read_device(device, nonce))
        self._in_flight[key] = reading
        try:
            snapshot = await reading
        except asyncio.CancelledError:
            return
        await self._report(
            key,
            round_,
            lambda: state.service_snapshot_taken(key, snapshot, workflow.now()),
            snapshot,
        )

    async def _run_wait(self, key: str, round_: int) -> None:
        """Wait for the signal handler to match the wait, or for its deadline."""
        until = self._state.tasks[key].until
        try:
            timeout = None if until is None else max(until - workflow.now(), timedelta(0))
            if timeout != timedelta(0):
                await workflow.wait_condition(
                    lambda: not self._still_running(key, round_), timeout=timeout
                )
                self._forget(key)
                return
        except TimeoutError:
            pass
        await self._report(key, round_, lambda: self._state.wait_timed_out(key, workflow.now()))

    async def _run_timer(self, key: str, round_: int) -> None:
        """Sleep until the timer's instant (kept in the state, so it survives continue-as-new)."""
        until = self._state.tasks[key].until
        assert until is not None
        delay = until - workflow.now()
        if delay > timedelta(0):
            try:
                await workflow.wait_condition(
                    lambda: not self._still_running(key, round_), timeout=delay
                )
                self._forget(key)
                return  # cancelled with its ticket
            except TimeoutError:
                pass
        await self._report(key, round_, lambda: self._state.timer_fired(key, workflow.now()))

    async def _run_subprocess(self, key: str, round_: int) -> None:
        """Reserve the child's key, start it as a child workflow and wait until it ends."""
        state = self._state
        spec = state.definition.stage(key).subprocess
        assert spec is not None
        try:
            intake = state.subprocess_intake(key)
            reserving = workflow.start_activity(
                CHILD_TICKET_ACTIVITY,
                ChildTicketInput(
                    parent_key=state.key,
                    stage=key,
                    round=round_,
                    definition=spec.definition,
                    intake=intake,
                ),
                result_type=ChildTicket,
                start_to_close_timeout=CHILD_TICKET_TIMEOUT,
                retry_policy=IDEMPOTENT_WRITE_RETRY,
            )
            self._in_flight[key] = reserving
            child = await reserving
        except asyncio.CancelledError:
            return
        except (ExpressionError, ActivityError) as exc:
            error = _failure_text(exc) if isinstance(exc, ActivityError) else str(exc)
            await self._report(
                key,
                round_,
                lambda: state.subprocess_closed(key, "failed", workflow.now(), error=error),
            )
            return
        if not self._still_running(key, round_):
            return
        definition = child.definition
        ref = f"{definition.key}@{definition.version}"
        await self._record([state.subprocess_started(key, child.key, ref, workflow.now())])
        try:
            handle = await workflow.start_child_workflow(
                TicketWorkflow.run,
                StartTicketInput(
                    key=child.key,
                    definition=definition,
                    intake=intake,
                    requester=state.requester,
                    priority=state.priority,
                    parent=ParentRef(key=state.key, stage=key),
                ),
                id=child.key,
                parent_close_policy=workflow.ParentClosePolicy.REQUEST_CANCEL,
                search_attributes=TypedSearchAttributes(
                    [
                        SearchAttributePair(sa.TICKET_STATE, TicketStatus.OPEN.value),
                        SearchAttributePair(sa.TICKET_DEFINITION, definition.key),
                    ]
                ),
            )
            self._in_flight[key] = handle
            if not self._still_running(key, round_):
                handle.cancel()  # the ticket was cancelled while the child started
            result = await handle
        except (ChildWorkflowError, WorkflowAlreadyStartedError) as exc:
            error = _failure_text(exc)
            await self._report(
                key,
                round_,
                lambda: state.subprocess_closed(key, "failed", workflow.now(), error=error),
            )
            return
        await self._report(
            key,
            round_,
            lambda: state.subprocess_closed(key, result.status.value, workflow.now()),
        )

    def _result(self, task: Task | None = None, *, fingerprint: str = "") -> TransitionResult:
        # The fingerprint is echoed so the API can tell a retry from another request that
        # reused its Idempotency-Key (Temporal answers both with the first outcome).
        return TransitionResult(
            key=self._state.key,
            status=self._state.status,
            seq=self._state.last_seq,
            task=task.model_copy() if task else None,
            request_fingerprint=fingerprint,
        )

    # -- Updates: validators refuse without writing history; handlers re-check and apply ----

    @workflow.update
    async def opened(self) -> TransitionResult:
        """Answer once the ticket's creation is in SQL, so the creator can read it at once."""
        await workflow.wait_condition(lambda: self._creation_projected)
        return self._result()

    @workflow.update
    async def claim(self, cmd: ClaimInput) -> TransitionResult:
        """Claim a stage's task for the calling worker."""
        event = _checked(lambda: self._state.claim(cmd.stage_key, cmd.actor, workflow.now()))
        await self._record([event] if event else [])
        if event is not None:
            self._start_claim_snapshot(cmd.stage_key)
        return self._result(self._state.task(cmd.stage_key), fingerprint=cmd.request_fingerprint)

    @claim.validator
    def _validate_claim(self, cmd: ClaimInput) -> None:
        _checked(lambda: self._state.check_claim(cmd.stage_key, cmd.actor))

    @workflow.update
    async def unclaim(self, cmd: UnclaimInput) -> TransitionResult:
        """Give a claimed task back to its group's queue."""
        event = _checked(lambda: self._state.unclaim(cmd.stage_key, cmd.actor, workflow.now()))
        await self._record([event])
        return self._result(self._state.task(cmd.stage_key), fingerprint=cmd.request_fingerprint)

    @unclaim.validator
    def _validate_unclaim(self, cmd: UnclaimInput) -> None:
        _checked(lambda: self._state.check_unclaim(cmd.stage_key, cmd.actor))

    @workflow.update
    async def complete(self, cmd: CompleteInput) -> TransitionResult:
        """Complete a claimed task; opens the stages that become ready, or resolves."""
        now = workflow.now()
        contract = workflow.patched(DELIVERABLES_PATCH)
        event = _checked(
            lambda: self._state.complete(cmd.stage_key, cmd.actor, cmd.data, now, contract=contract)
        )
        task = self._state.task(cmd.stage_key).model_copy()
        await self._record([event, *self._state.open_ready_tasks(now)])
        return self._result(task, fingerprint=cmd.request_fingerprint)

    @complete.validator
    def _validate_complete(self, cmd: CompleteInput) -> None:
        _checked(lambda: self._state.check_complete(cmd.stage_key, cmd.actor, cmd.data))

    @workflow.update
    async def attach_deliverable(self, cmd: AttachDeliverableInput) -> TransitionResult:
        """Attach a new version of a stage's deliverable (stored artifact metadata or a value)."""
        event = _checked(
            lambda: self._state.attach_deliverable(
                cmd.stage_key, cmd.deliverable, cmd.actor, cmd.submission, workflow.now()
            )
        )
        await self._record([event])
        return self._result(self._state.task(cmd.stage_key), fingerprint=cmd.request_fingerprint)

    @attach_deliverable.validator
    def _validate_attach_deliverable(self, cmd: AttachDeliverableInput) -> None:
        _checked(
            lambda: self._state.check_attach(
                cmd.stage_key, cmd.deliverable, cmd.actor, cmd.submission
            )
        )

    @workflow.update
    async def amend_contract(self, cmd: AmendContractInput) -> TransitionResult:
        """Replace one stage's deliverable contract on this ticket, with a reason."""
        event = _checked(
            lambda: self._state.amend_contract(
                cmd.stage_key, cmd.actor, cmd.deliverables, cmd.reason, workflow.now()
            )
        )
        await self._record([event])
        return self._result(self._state.task(cmd.stage_key), fingerprint=cmd.request_fingerprint)

    @amend_contract.validator
    def _validate_amend_contract(self, cmd: AmendContractInput) -> None:
        _checked(
            lambda: self._state.check_amend(cmd.stage_key, cmd.actor, cmd.deliverables, cmd.reason)
        )

    @workflow.update
    async def reassign(self, cmd: ReassignInput) -> TransitionResult:
        """Move a task to another group and/or person."""
        event = _checked(
            lambda: self._state.reassign(
                cmd.stage_key, cmd.actor, cmd.to_group, cmd.to_user, cmd.reason, workflow.now()
            )
        )
        await self._record([event])
        return self._result(self._state.task(cmd.stage_key), fingerprint=cmd.request_fingerprint)

    @reassign.validator
    def _validate_reassign(self, cmd: ReassignInput) -> None:
        _checked(
            lambda: self._state.check_reassign(cmd.stage_key, cmd.actor, cmd.to_group, cmd.to_user)
        )

    @workflow.update
    async def withdraw(self, cmd: WithdrawInput) -> TransitionResult:
        """Withdraw a follow-up that is no longer needed; the ticket may resolve."""
        events = _checked(
            lambda: self._state.withdraw(cmd.stage_key, cmd.actor, cmd.reason, workflow.now())
        )
        await self._record(events)
        return self._result(self._state.task(cmd.stage_key), fingerprint=cmd.request_fingerprint)

    @withdraw.validator
    def _validate_withdraw(self, cmd: WithdrawInput) -> None:
        _checked(lambda: self._state.check_withdraw(cmd.stage_key, cmd.actor))

    @workflow.update
    async def comment(self, cmd: CommentInput) -> TransitionResult:
        """Add a comment."""
        event = _checked(
            lambda: self._state.comment(cmd.actor, cmd.body, cmd.internal, workflow.now())
        )
        await self._record([event])
        return self._result(fingerprint=cmd.request_fingerprint)

    @comment.validator
    def _validate_comment(self, cmd: CommentInput) -> None:
        _checked(self._state.check_comment)

    @workflow.update
    async def cancel(self, cmd: CancelInput) -> TransitionResult:
        """Cancel the ticket with a reason."""
        events = _checked(lambda: self._state.cancel(cmd.actor, cmd.reason, workflow.now()))
        await self._record(events)
        return self._result(fingerprint=cmd.request_fingerprint)

    @cancel.validator
    def _validate_cancel(self, cmd: CancelInput) -> None:
        _checked(self._state.check_cancel)

    @workflow.update
    async def reopen(self, cmd: ReopenInput) -> TransitionResult:
        """Reopen a resolved ticket: chosen stages and their dependents run again."""
        events = _checked(
            lambda: self._state.reopen(cmd.actor, cmd.reason, cmd.stages, workflow.now())
        )
        await self._record(events)
        return self._result(fingerprint=cmd.request_fingerprint)

    @reopen.validator
    def _validate_reopen(self, cmd: ReopenInput) -> None:
        _checked(lambda: self._state.check_reopen(cmd.stages))

    @workflow.update
    async def confirm(self, cmd: ConfirmInput) -> TransitionResult:
        """The requester confirms the resolution; the ticket closes."""
        events = _checked(lambda: self._state.confirm(cmd.actor, cmd.comment, workflow.now()))
        await self._record(events)
        return self._result(fingerprint=cmd.request_fingerprint)

    @confirm.validator
    def _validate_confirm(self, cmd: ConfirmInput) -> None:
        _checked(lambda: self._state.check_confirm(cmd.actor))

    @workflow.update
    async def set_priority(self, cmd: SetPriorityInput) -> TransitionResult:
        """Change the priority; SLA clocks keep their elapsed time against the new target."""
        events = _checked(
            lambda: sla_clocks.set_priority(
                self._state, cmd.actor, cmd.priority, cmd.reason, workflow.now()
            )
        )
        await self._record(events)
        return self._result(fingerprint=cmd.request_fingerprint)

    @set_priority.validator
    def _validate_set_priority(self, cmd: SetPriorityInput) -> None:
        _checked(lambda: sla_clocks.check_set_priority(self._state, cmd.actor, cmd.priority))

    @workflow.update
    async def pause(self, cmd: PauseInput) -> TransitionResult:
        """Put the ticket on hold; clocks that pause for this reason stop counting."""
        events = _checked(
            lambda: sla_clocks.pause(self._state, cmd.actor, cmd.reason, cmd.note, workflow.now())
        )
        await self._record(events)
        return self._result(fingerprint=cmd.request_fingerprint)

    @pause.validator
    def _validate_pause(self, cmd: PauseInput) -> None:
        _checked(lambda: sla_clocks.check_pause(self._state, cmd.actor))

    @workflow.update
    async def resume(self, cmd: ResumeInput) -> TransitionResult:
        """End the wait; paused clocks count on with the business time they had left."""
        events = _checked(
            lambda: sla_clocks.resume(self._state, cmd.actor, cmd.note, workflow.now())
        )
        await self._record(events)
        return self._result(fingerprint=cmd.request_fingerprint)

    @resume.validator
    def _validate_resume(self, cmd: ResumeInput) -> None:
        _checked(lambda: sla_clocks.check_resume(self._state, cmd.actor))

    @workflow.update
    async def dispatch(self, cmd: DispatchInput) -> TransitionResult:
        """A dispatcher sends the routed stages to a team; the choice is a training label."""
        now = workflow.now()
        _checked(lambda: check_dispatch_priority(self._state, cmd))
        events = _checked(lambda: dispatch(self._state, cmd, now))
        await self._record([*events, *dispatch_priority(self._state, cmd, now)])
        return self._result(fingerprint=cmd.request_fingerprint)

    @dispatch.validator
    def _validate_dispatch(self, cmd: DispatchInput) -> None:
        _checked(lambda: check_dispatch(self._state, cmd))
        _checked(lambda: check_dispatch_priority(self._state, cmd))

    @workflow.update
    async def decide_expedite(self, cmd: ExpediteDecisionInput) -> TransitionResult:
        """A supervisor confirms (priority up, a task for their group) or declines a proposal."""
        events = _checked(
            lambda: self._state.decide_expedite(
                cmd.proposal, cmd.actor, cmd.decision, cmd.reason, workflow.now()
            )
        )
        await self._record(events)
        return self._result(fingerprint=cmd.request_fingerprint)

    @decide_expedite.validator
    def _validate_decide_expedite(self, cmd: ExpediteDecisionInput) -> None:
        _checked(lambda: self._state.check_expedite_decision(cmd.proposal, cmd.actor))

    # -- Signals and queries --------------------------------------------------------------

    @workflow.signal(name=DUPLICATE_SIGNAL)
    async def duplicate_report(self, report: DuplicateReportInput) -> None:
        """Record a repeat report that was linked to this ticket instead of starting another."""
        if self._state.status in (TicketStatus.CLOSED, TicketStatus.CANCELLED):
            return
        event = record_duplicate(self._state, report, workflow.now())
        if event is not None:
            await self._record([event])

    @workflow.signal(name=EXPEDITE_SIGNAL)
    async def sentiment_expedite(self, sig: ExpediteSignal) -> None:
        """The customer's sentiment proposes an expedite; nothing changes until one decides."""
        if not workflow.patched(EXPEDITE_PATCH):
            return
        event = self._state.propose_expedite(sig.record_id, sig.supervisor_group, workflow.now())
        if event is not None:
            await self._record([event])

    @workflow.signal(name=EXPEDITE_WITHDRAW_SIGNAL)
    async def withdraw_expedites(self, sig: RevokedInput) -> None:
        """Consent to the analysis ended: the proposals still waiting are withdrawn."""
        if not workflow.patched(EXPEDITE_PATCH):
            return
        await self._record(self._state.withdraw_expedites(workflow.now()))

    @workflow.signal(name=EXTERNAL_SIGNAL)
    async def external_event(self, sig: ExternalEventInput) -> None:
        """Record an outside system's report; a customer's reply ends a wait for the customer."""
        state = self._state
        if state.status in (TicketStatus.CLOSED, TicketStatus.CANCELLED):
            return
        now = workflow.now()
        event = state.record_external(
            sig.name,
            sig.source,
            sig.payload,
            now,
            signal_id=sig.signal_id,
            fingerprint=sig.request_fingerprint,
        )
        if event is None:  # a retried signal, already recorded
            return
        events = [event]
        if sig.name == "customer_reply" and state.waiting_for == "customer":
            system = Actor(user=sig.source, role="system")
            events += sla_clocks.resume(state, system, "the customer replied", now)
        # A wait for this signal ends only if its correlation holds of the payload; a
        # forged value is recorded above and matches nothing.
        for key in state.waits_for(sig.name, sig.payload):
            events += state.wait_matched(key, sig.payload, sig.signal_id, now)
        await self._record(events)

    @workflow.signal(name=GIT_COMMIT_SIGNAL)
    async def git_commit(self, sig: GitCommitInput) -> None:
        """A git server pushed a commit naming this ticket: each stage expecting one takes it."""
        state = self._state
        if state.status != TicketStatus.OPEN or not workflow.patched(GIT_COMMITS_PATCH):
            return
        await self._record(state.attach_commit(sig.commit, sig.signal_id, workflow.now()))

    @workflow.query
    def contract(self, stage_key: str) -> StageContract:
        """One stage's deliverable contract as this ticket holds it."""
        found = stage_key in self._state.tasks
        return StageContract(
            stage_key=stage_key, deliverables=self._state.contract(stage_key), found=found
        )

    @workflow.query
    def state(self) -> TicketState:
        """The ticket's full current state."""
        return self._state
