"""A ticket driven by random people and time: the rules hold after every step (hypothesis)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from domain.definitions import ProcessDefinition
from domain.process_paths import incoming
from domain.sla import PRIORITIES, ClockState
from domain.sla_clocks import fire_due, next_due, pause, resume, set_priority, sync_clocks
from domain.ticket import (
    ACTIVE_TASK,
    FINAL_TICKET,
    FINISHED_TASK,
    FOLLOWUP_PATTERN,
    Actor,
    TaskStatus,
    TicketRuleError,
    TicketState,
    TicketStatus,
)
from domain.triage import DuplicateReportInput
from domain.triage_routing import record_duplicate
from policies.event_shapes import EVENT_SHAPES
from tests.domain.processes import exclusive, service, stage
from tests.domain.tickets import CARA, DANA, LEO, NOW, RITA, ROOT, life, new_ticket

PEOPLE = st.sampled_from([RITA, DANA, LEO, CARA, ROOT])
DECISIONS: list[dict[str, Any]] = [{"decision": "retry"}, {"decision": "skip", "reason": "no"}]
REFS = st.sampled_from(["work", "check", "F1", "F2", "F3", "nope"])
STEPS = st.timedeltas(min_value=timedelta(0), max_value=timedelta(hours=3))


class TicketLife(RuleBasedStateMachine):
    """Every transition of TicketState and the SLA clock functions, in any order."""

    state: TicketState

    def definition(self) -> ProcessDefinition:
        """The process the ticket follows."""
        return life()

    @initialize(priority=st.sampled_from(PRIORITIES))
    def file(self, priority: Any) -> None:
        self.state = new_ticket(self.definition(), priority=priority)
        self.now = NOW

    def _apply(self, transition: Callable[[], object]) -> None:
        """Run a transition; a refused one changes nothing. Clocks follow, as in the workflow."""
        before = self.state.model_dump(mode="json")
        try:
            transition()
        except TicketRuleError:
            assert self.state.model_dump(mode="json") == before
            return
        sync_clocks(self.state, self.now)

    @rule(step=STEPS)
    def time_passes(self, step: timedelta) -> None:
        """The workflow wakes at the next due instant, or earlier when something changes."""
        due = next_due(self.state)
        self.now += step
        if due is not None and due <= self.now:
            fire_due(self.state, self.now)

    @rule(ref=REFS, who=PEOPLE)
    def claim(self, ref: str, who: Actor) -> None:
        self._apply(lambda: self.state.claim(ref, who, self.now))

    @rule(data=st.data())
    def work_a_task(self, data: st.DataObject) -> None:
        """Someone who may do it claims (if need be) and completes a task still to do."""
        active = [t for t in self.state.all_tasks() if t.status in ACTIVE_TASK]
        if not active:
            return
        task = data.draw(st.sampled_from(active))
        holder = task.assignee or data.draw(st.sampled_from(["root", "member"]))
        who = ROOT if holder == "root" else Actor(user=holder, department=task.group, role="agent")

        if task.kind == "service":
            form = data.draw(st.sampled_from(DECISIONS))
        else:
            form = data.draw(st.sampled_from([{}, {"ok": True}]))

        def work() -> None:
            self.state.claim(task.stage_key, who, self.now)
            self.state.complete(task.stage_key, who, form, self.now)
            self.state.open_ready_tasks(self.now)

        self._apply(work)

    @rule(ref=REFS, who=PEOPLE)
    def withdraw(self, ref: str, who: Actor) -> None:
        def withdrawn() -> None:
            self.state.withdraw(ref, who, "not needed", self.now)

        self._apply(withdrawn)

    @rule(ref=REFS, who=PEOPLE)
    def unclaim(self, ref: str, who: Actor) -> None:
        self._apply(lambda: self.state.unclaim(ref, who, self.now))

    @rule(ref=REFS, who=PEOPLE)
    def complete(self, ref: str, who: Actor) -> None:
        def done() -> None:
            self.state.complete(ref, who, {}, self.now)
            self.state.open_ready_tasks(self.now)

        self._apply(done)

    @rule(
        ref=REFS,
        who=PEOPLE,
        group=st.sampled_from([None, "desk", "l2"]),
        user=st.sampled_from([None, "dana", "leo"]),
    )
    def reassign(self, ref: str, who: Actor, group: str | None, user: str | None) -> None:
        self._apply(lambda: self.state.reassign(ref, who, group, user, "moved", self.now))

    @rule(who=PEOPLE, reason=st.sampled_from(["customer", "supplier", "change"]))
    def pause(self, who: Actor, reason: str) -> None:
        self._apply(lambda: pause(self.state, who, reason, "", self.now))

    @rule(who=PEOPLE)
    def resume(self, who: Actor) -> None:
        self._apply(lambda: resume(self.state, who, "", self.now))

    @rule(who=PEOPLE, priority=st.sampled_from(PRIORITIES))
    def set_priority(self, who: Actor, priority: str) -> None:
        self._apply(lambda: set_priority(self.state, who, priority, "", self.now))

    @rule(who=PEOPLE)
    def comment(self, who: Actor) -> None:
        self._apply(lambda: self.state.comment(who, "hello", False, self.now))

    # Anyone may cancel: held back until the ticket has lived a little, or few lives get far.
    @precondition(lambda self: len(self.state.events) > 12)
    @rule(who=PEOPLE)
    def cancel(self, who: Actor) -> None:
        running = [c.id for c in self.state.clocks.values() if c.stopped_at is None]
        self._apply(lambda: self.state.cancel(who, "no longer needed", self.now))
        if self.state.status == TicketStatus.CANCELLED:
            # The clocks it stopped were cancelled, not met (unless they had breached).
            outcomes = {self.state.clocks[c].state() for c in running}
            assert outcomes <= {ClockState.CANCELLED, ClockState.BREACHED}

    @rule(who=PEOPLE, stages=st.sampled_from([None, ["work"], ["check"]]))
    def reopen(self, who: Actor, stages: list[str] | None) -> None:
        self._apply(lambda: self.state.reopen(who, "again", stages, self.now))

    @rule(who=PEOPLE)
    def confirm(self, who: Actor) -> None:
        self._apply(lambda: self.state.confirm(who, "", self.now))

    @rule()
    def confirmation_times_out(self) -> None:
        if self.state.status == TicketStatus.RESOLVED:
            self._apply(lambda: self.state.close_unconfirmed(self.now))

    @rule(report=st.sampled_from(["r1", "r2"]))
    def duplicate(self, report: str) -> None:
        if self.state.status not in FINAL_TICKET:
            before = list(self.state.report_ids)
            event = record_duplicate(
                self.state, DuplicateReportInput(requester="sam", report_id=report), self.now
            )
            assert (event is None) == (report in before)

    @rule()
    def continue_as_new(self) -> None:
        """The workflow carries the state over with its last 50 events."""
        carried = self.state.model_copy(update={"events": self.state.events[-50:]})
        self.state = TicketState.model_validate_json(carried.model_dump_json())

    # -- invariants -------------------------------------------------------------------------

    @invariant()
    def seq_grows_by_one(self) -> None:
        seqs = [e.seq for e in self.state.events]
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
        assert self.state.last_seq == seqs[-1]

    @invariant()
    def every_event_has_a_shape(self) -> None:
        assert {e.type for e in self.state.events} <= set(EVENT_SHAPES)

    @invariant()
    def a_final_ticket_has_nothing_to_do_and_no_running_clock(self) -> None:
        state = self.state
        if state.status in FINAL_TICKET:
            assert not [t for t in state.all_tasks() if t.status in ACTIVE_TASK]
            assert state.waiting_for is None
            assert all(c.stopped_at is not None for c in state.clocks.values())
            assert next_due(state) is None
            assert state.active_groups() == []

    @invariant()
    def a_resolved_ticket_has_its_stages_done_and_no_open_follow_up(self) -> None:
        state = self.state
        if state.status == TicketStatus.RESOLVED:
            assert all(t.status in FINISHED_TASK for t in state.tasks.values())
            assert not state.open_followups()
            assert state.resolved_at is not None

    @invariant()
    def stopped_clocks_stay_stopped_unless_reopened(self) -> None:
        for clock in self.state.clocks.values():
            if clock.stopped_at is not None:
                assert clock.running_since is None
                assert clock.paused_since is None
            if clock.cancelled:
                assert self.state.status == TicketStatus.CANCELLED

    @invariant()
    def paused_clocks_match_the_wait(self) -> None:
        for clock in self.state.clocks.values():
            if clock.paused_since is not None:
                assert self.state.waiting_for is not None

    @invariant()
    def follow_ups_have_their_own_ids(self) -> None:
        for key, task in self.state.followups.items():
            assert re.match(FOLLOWUP_PATTERN, key)
            assert (task.kind, task.stage_key) == ("followup", key)
        assert not set(self.state.followups) & set(self.state.tasks)
        assert all(t.kind != "followup" for t in self.state.tasks.values())

    @invariant()
    def stages_run_only_on_a_taken_path_and_are_skipped_only_when_none_is(self) -> None:
        state = self.state
        for key, edges in incoming(state.definition).items():
            status = state.tasks[key].status
            edge_states = {state._edge_state(e) for e in edges}
            if status == TaskStatus.SKIPPED:
                assert edge_states == {"dead"}
            elif status not in (TaskStatus.PENDING, TaskStatus.CANCELLED) and edges:
                assert "taken" in edge_states
            elif status == TaskStatus.PENDING and state.status == TicketStatus.OPEN:
                # Dead-path elimination left nothing decidable undecided.
                assert "pending" in edge_states

    @invariant()
    def claimed_tasks_have_an_assignee(self) -> None:
        for task in self.state.all_tasks():
            if task.status == TaskStatus.CLAIMED:
                assert task.assignee is not None
            if task.status in (TaskStatus.PENDING, TaskStatus.OPEN):
                assert task.assignee is None

    @invariant()
    def report_ids_are_kept_once(self) -> None:
        assert len(set(self.state.report_ids)) == len(self.state.report_ids)


TicketLife.TestCase.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)
test_ticket_life = TicketLife.TestCase

# `work` chooses the automated path when its form says ok: a service, then a join before a
# wait that may time out, then a timer; the clocks and ladder of the ticket-life process stay.
BRANCHING = life(
    stages=[
        {
            **life().stages[0].model_dump(mode="json", exclude_none=True),
            "gateway": exclusive(("fast", "has(stages.work.data.ok)"), default="check"),
        },
        stage("fast", kind="service", service=service(), sla={"target": "PT1H"}),
        stage("check"),
        stage(
            "part",
            kind="wait",
            depends_on=["fast", "check"],
            wait={"signal": "external_update", "timeout": "PT1H", "on_timeout": "chase"},
        ),
        stage("chase"),
        stage("cool", kind="timer", depends_on=["part"], timer={"duration": "PT30M"}),
    ]
)


class BranchingLife(TicketLife):
    """The same people and time on a process with a gateway, a join and automated stages."""

    def definition(self) -> ProcessDefinition:
        """The branching process."""
        return BRANCHING

    @rule(data=st.data())
    def an_automated_stage_reports(self, data: st.DataObject) -> None:
        """The workflow reports how a running stage ended (or a stale report is refused)."""
        running = [t for t in self.state.tasks.values() if t.status == TaskStatus.RUNNING]
        key = data.draw(st.sampled_from([t.stage_key for t in running] or ["fast"]))
        kind = self.state.tasks[key].kind
        state, now = self.state, self.now
        outcomes: dict[str, list[Callable[[], object]]] = {
            "service": [
                lambda: state.service_completed(key, {"n": 1}, now),
                lambda: state.service_failed(key, "boom", 3, now),
            ],
            "wait": [
                lambda: state.wait_matched(key, {}, "s1", now),
                lambda: state.wait_timed_out(key, now),
            ],
            "timer": [lambda: state.timer_fired(key, now)],
        }
        self._apply(data.draw(st.sampled_from(outcomes.get(kind, outcomes["service"]))))

    @invariant()
    def nothing_runs_once_the_ticket_is_over(self) -> None:
        if self.state.status != TicketStatus.OPEN:
            assert TaskStatus.RUNNING not in {t.status for t in self.state.tasks.values()}


BranchingLife.TestCase.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)
test_branching_life = BranchingLife.TestCase
