"""The evidence trace as tables: durations, rounds, parallel stages, hand-overs, waits, data."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from domain.devices import Reading, Snapshot, seal
from domain.feedback import Solution
from domain.sla_clocks import sync_clocks
from domain.ticket import Actor, TicketState
from domain.trace import (
    Person,
    RatingTrace,
    SnapshotRecord,
    Trace,
    TraceSources,
    VersionRecord,
    build_trace,
)
from tests.domain.processes import process, stage
from tests.domain.tickets import NOW, RITA

DANA = Actor(user="dana", department="desk", role="agent")
DORA = Actor(user="dora", department="desk", role="agent")
OTTO = Actor(user="otto", department="ops", role="agent")
DEVI = Actor(user="devi", department="dev", role="agent")
PEOPLE = {
    a.user: Person(department=a.department, role=a.role) for a in (RITA, DANA, DORA, OTTO, DEVI)
}

# The desk triages; ops diagnoses while dev fixes; the desk verifies once both are done.
PARALLEL = process(
    stage("triage"),
    stage("diagnose", group="ops", depends_on=["triage"]),
    stage("fix", group="dev", depends_on=["triage"]),
    stage("verify", depends_on=["diagnose", "fix"]),
    sla={"target": "PT8H", "pause_when": ["customer"]},
)


def minutes(n: float) -> Any:
    """The instant n minutes after the ticket was filed."""
    return NOW + timedelta(minutes=n)


def claim(state: TicketState, key: str, actor: Actor, at: float) -> None:
    """Claim a stage's task at that minute."""
    state.claim(key, actor, minutes(at))
    sync_clocks(state, minutes(at))


def complete(state: TicketState, key: str, actor: Actor, at: float) -> None:
    """Complete a stage at that minute; the process moves on as the workflow moves it."""
    state.complete(key, actor, {}, minutes(at))
    state.open_ready_tasks(minutes(at))
    sync_clocks(state, minutes(at))


def work(state: TicketState, key: str, actor: Actor, at: float, done: float) -> None:
    """Claim a stage at one minute and complete it at another."""
    claim(state, key, actor, at)
    complete(state, key, actor, done)


def parallel_life() -> TicketState:
    """A ticket worked to closed, reopened once for the fix, with a hold on the customer."""
    state = TicketState.create(
        key="FLOW-1", definition=PARALLEL, intake={}, requester=RITA, now=NOW
    )
    sync_clocks(state, NOW)
    work(state, "triage", DANA, 5, 15)
    claim(state, "fix", DEVI, 20)
    claim(state, "diagnose", OTTO, 25)
    state.start_waiting(OTTO.user, "customer", "asked for a capture", minutes(30))
    sync_clocks(state, minutes(30))
    state.end_waiting(OTTO.user, "capture came", minutes(50))
    sync_clocks(state, minutes(50))
    complete(state, "fix", DEVI, 80)
    complete(state, "diagnose", OTTO, 100)
    work(state, "verify", DANA, 110, 120)
    # The requester says it is not fixed after an hour; dev and the desk work again.
    state.reopen(RITA, "still drops", ["fix"], minutes(180))
    sync_clocks(state, minutes(180))
    work(state, "fix", DEVI, 190, 200)
    work(state, "verify", DORA, 205, 215)
    state.confirm(RITA, "", minutes(240))
    sync_clocks(state, minutes(240))
    return state


def trace_of(state: TicketState, **sources: Any) -> Trace:
    return build_trace(
        TraceSources(
            key=state.key,
            definition=state.definition,
            events=state.events,
            people=PEOPLE,
            **sources,
        )
    )


LIFE = trace_of(parallel_life())


@pytest.mark.parametrize(
    ("stage_key", "round_", "group", "opened", "claimed", "ended"),
    [
        ("triage", 1, "desk", 0, 5, 15),
        ("fix", 1, "dev", 15, 20, 80),
        ("diagnose", 1, "ops", 15, 25, 100),
        ("verify", 1, "desk", 100, 110, 120),
        ("fix", 2, "dev", 180, 190, 200),
        ("verify", 2, "desk", 200, 205, 215),
    ],
)
def test_each_stage_round_has_its_span(
    stage_key: str, round_: int, group: str, opened: float, claimed: float, ended: float
) -> None:
    [span] = [s for s in LIFE.time.stages if s.stage == stage_key and s.round == round_]
    assert (span.group, span.status) == (group, "done")
    assert (span.opened_at, span.claimed_at, span.ended_at) == (
        minutes(opened),
        minutes(claimed),
        minutes(ended),
    )
    assert span.seconds == (ended - opened) * 60
    assert span.to_claim_seconds == (claimed - opened) * 60
    assert span.task == f"FLOW-1:{stage_key}:{round_}"


def test_parallel_stages_overlap_and_each_is_handed_over_from_the_desk() -> None:
    fix, diagnose = (
        next(s for s in LIFE.time.stages if s.stage == k and s.round == 1)
        for k in ("fix", "diagnose")
    )
    assert fix.opened_at == diagnose.opened_at == minutes(15)
    assert fix.ended_at is not None
    assert diagnose.ended_at is not None
    assert diagnose.opened_at < fix.ended_at < diagnose.ended_at
    handovers = [
        (h.from_stage, h.from_group, h.to_stage, h.to_group, h.to_round, h.gap_seconds)
        for h in LIFE.organisation.handovers
    ]
    assert handovers == [
        ("triage", "desk", "diagnose", "ops", 1, 0.0),
        ("triage", "desk", "fix", "dev", 1, 0.0),
        # The join waited for the diagnosis: the fix had reached the desk 20 minutes before.
        ("diagnose", "ops", "verify", "desk", 1, 0.0),
        ("fix", "dev", "verify", "desk", 1, 20 * 60.0),
        # The reopen sent the fix back (no hand-over from triage); the fix went to the desk.
        ("fix", "dev", "verify", "desk", 2, 0.0),
    ]


def test_rounds_follow_the_reopen_and_the_confirmation_waits_are_timed() -> None:
    rounds = [(r.round, r.started_at, r.resolved_at, r.outcome) for r in LIFE.time.rounds]
    assert rounds == [
        (1, minutes(0), minutes(120), "reopened"),
        (2, minutes(180), minutes(215), "closed"),
    ]
    assert [r.seconds for r in LIFE.time.rounds] == [120 * 60, 35 * 60]
    confirmations = [
        (w.started_at, w.ended_at, w.seconds, w.outcome)
        for w in LIFE.time.waits
        if w.kind == "confirmation"
    ]
    assert confirmations == [
        (minutes(120), minutes(180), 60 * 60, "reopened"),
        (minutes(215), minutes(240), 25 * 60, "confirmed"),
    ]
    assert (LIFE.time.created_at, LIFE.time.closed_at) == (minutes(0), minutes(240))
    assert LIFE.time.seconds == 240 * 60


def test_waiting_for_a_claim_on_hold_and_paused_clocks_are_each_timed() -> None:
    claims = {
        (w.stage, w.round): (w.seconds, w.outcome) for w in LIFE.time.waits if w.kind == "claim"
    }
    assert claims == {
        ("triage", 1): (5 * 60, "claimed"),
        ("fix", 1): (5 * 60, "claimed"),
        ("diagnose", 1): (10 * 60, "claimed"),
        ("verify", 1): (10 * 60, "claimed"),
        ("fix", 2): (10 * 60, "claimed"),
        ("verify", 2): (5 * 60, "claimed"),
    }
    [hold] = [w for w in LIFE.time.waits if w.kind == "on_hold"]
    assert (hold.reason, hold.started_at, hold.seconds, hold.outcome) == (
        "customer",
        minutes(30),
        20 * 60,
        "resumed",
    )
    [paused] = [w for w in LIFE.time.waits if w.kind == "sla_paused"]
    assert (paused.clock, paused.seconds, paused.reason) == ("ticket", 20 * 60, "customer")


def test_every_event_is_a_transition_cut_down_to_its_task() -> None:
    state = parallel_life()
    assert [(t.seq, t.type) for t in LIFE.time.transitions] == [
        (e.seq, e.type) for e in state.events
    ]
    completed = next(t for t in LIFE.time.transitions if t.type == "task_completed")
    assert set(completed.data) == {"task", "stage", "group", "assignee"}  # no form data


def test_actors_carry_their_account_and_what_they_did() -> None:
    actors = {a.user: a for a in LIFE.organisation.actors}
    assert set(actors) == {"rita", "system", "sla", "dana", "devi", "otto", "dora"}
    devi = actors["devi"]
    assert (devi.kind, devi.department, devi.role, devi.groups) == (
        "person",
        "dev",
        "agent",
        ["dev"],
    )
    assert [(a.type, a.stage, a.round) for a in devi.actions] == [
        ("task_claimed", "fix", 1),
        ("task_completed", "fix", 1),
        ("task_claimed", "fix", 2),
        ("task_completed", "fix", 2),
    ]
    assert [a.type for a in actors["rita"].actions] == ["created", "reopened", "closed"]
    assert (actors["sla"].kind, actors["sla"].department) == ("system", None)
    # Otto put the ticket on hold while he diagnosed.
    assert [a.type for a in actors["otto"].actions] == [
        "task_claimed",
        "waiting_started",
        "waiting_ended",
        "task_completed",
    ]


def test_departments_sum_the_time_their_stage_rounds_took() -> None:
    departments = {d.department: d for d in LIFE.organisation.departments}
    # In the order each first held a stage (the definition orders stages opened together).
    assert list(departments) == ["desk", "ops", "dev"]
    desk = departments["desk"]
    assert [(s.stage, s.round) for s in desk.stages] == [
        ("triage", 1),
        ("verify", 1),
        ("verify", 2),
    ]
    assert desk.seconds == (15 + 20 + 15) * 60
    assert desk.people == ["dana", "dora"]
    assert departments["dev"].seconds == (65 + 20) * 60


def test_a_task_moved_to_another_group_is_a_hand_over_and_waits_again_for_a_claim() -> None:
    state = TicketState.create(
        key="FLOW-2", definition=PARALLEL, intake={}, requester=RITA, now=NOW
    )
    state.claim("triage", DANA, minutes(2))
    state.reassign("triage", DANA, "ops", None, "network, not desk", minutes(4))
    state.claim("triage", OTTO, minutes(9))
    trace = trace_of(state)
    [moved] = trace.organisation.handovers
    assert (moved.kind, moved.from_group, moved.to_group, moved.left_at) == (
        "moved",
        "desk",
        "ops",
        minutes(4),
    )
    claims = [(w.started_at, w.seconds, w.outcome) for w in trace.time.waits if w.kind == "claim"]
    assert claims == [(minutes(0), 2 * 60, "claimed"), (minutes(4), 5 * 60, "claimed")]
    [span] = [s for s in trace.time.stages if s.stage == "triage"]
    # The span keeps its first claim and is still under way, now with ops.
    assert (span.group, span.status, span.claimed_at, span.ended_at) == (
        "ops",
        "claimed",
        minutes(2),
        None,
    )
    assert span.seconds is None


def test_a_cancelled_ticket_ends_what_was_under_way() -> None:
    state = TicketState.create(
        key="FLOW-3", definition=PARALLEL, intake={}, requester=RITA, now=NOW
    )
    state.cancel(RITA, "filed twice", minutes(7))
    trace = trace_of(state)
    [span] = [s for s in trace.time.stages if s.opened_at is not None]
    assert (span.status, span.seconds) == ("cancelled", 7 * 60)
    [claim] = [w for w in trace.time.waits if w.kind == "claim"]
    assert (claim.outcome, claim.seconds) == ("cancelled", 7 * 60)
    assert [(r.outcome, r.ended_at) for r in trace.time.rounds] == [("cancelled", minutes(7))]


AUTOMATED = process(
    stage("start"),
    stage("arrive", kind="wait", depends_on=["start"], wait={"signal": "part"}),
    stage("cool", kind="timer", depends_on=["arrive"], timer={"duration": "PT30M"}),
    stage("check", depends_on=["cool"]),
)


def test_waits_for_a_signal_and_a_timer_are_timed_with_their_outcome() -> None:
    state = TicketState.create(
        key="FLOW-4", definition=AUTOMATED, intake={}, requester=RITA, now=NOW
    )
    work(state, "start", DANA, 1, 3)
    state.wait_matched("arrive", {"part": "fan"}, "sig-1", minutes(43))
    state.timer_fired("cool", minutes(73))
    trace = trace_of(state)
    waits = [
        (w.kind, w.stage, w.signal, w.seconds, w.outcome)
        for w in trace.time.waits
        if w.kind in ("signal", "timer")
    ]
    assert waits == [
        ("signal", "arrive", "part", 40 * 60, "done"),
        ("timer", "cool", None, 30 * 60, "done"),
    ]
    arrive = next(s for s in trace.time.stages if s.stage == "arrive")
    assert (arrive.kind, arrive.completed_by, arrive.seconds) == ("wait", "system", 40 * 60)


def _snapshot(value: float) -> Snapshot:
    return seal(
        Snapshot(
            device_id="press-7",
            device_version=2,
            site="local",
            taken_at=NOW,
            readings=[Reading(point="temp", value=value), Reading(point="run", quality="bad")],
        )
    )


@pytest.mark.parametrize(
    ("stored", "expected"),
    [
        ("as taken", (True, True)),
        ("altered", (True, False)),
        ("missing", (False, False)),
    ],
)
def test_a_snapshot_is_listed_with_its_seal_checked_against_the_stored_document(
    stored: str, expected: tuple[bool, bool]
) -> None:
    snapshot = _snapshot(21.5)
    state = TicketState.create(
        key="FLOW-5", definition=PARALLEL, intake={}, requester=RITA, now=NOW
    )
    state.intake_snapshot_taken(snapshot, minutes(1))
    document = snapshot.model_dump(mode="json")
    if stored == "altered":
        document["readings"][0]["value"] = 99.0
    records = (
        [] if stored == "missing" else [SnapshotRecord(sha256=snapshot.sha256, document=document)]
    )
    [found] = trace_of(state, snapshots=records).data.snapshots
    assert (found.device_id, found.sha256, found.good, found.bad) == (
        "press-7",
        snapshot.sha256,
        1,
        1,
    )
    assert (found.stored, found.sealed) == expected


def test_deliverable_versions_are_listed_in_the_order_attached_and_rating_is_empty() -> None:
    def version(stage_key: str, name: str, n: int, at: float) -> VersionRecord:
        return VersionRecord(
            stage=stage_key,
            deliverable=name,
            version=n,
            sha256=f"{n:064x}",
            size=100 * n,
            media_type="text/plain",
            file_name=f"{name}.txt",
            author="dana",
            at=minutes(at),
        )

    versions = [
        version("fix", "patch", 2, 30),
        version("triage", "log", 1, 5),
        version("fix", "patch", 1, 20),
    ]
    trace = trace_of(parallel_life(), versions=versions)
    assert [(d.stage, d.deliverable, d.version, d.size) for d in trace.data.deliverables] == [
        ("triage", "log", 1, 100),
        ("fix", "patch", 1, 100),
        ("fix", "patch", 2, 200),
    ]
    assert trace.data.rating == []


def test_the_rating_given_is_the_data_axis_rating() -> None:
    rating = RatingTrace(
        csat=5,
        nps=9,
        given_at=minutes(600),
        comment="fixed for good",
        solution=Solution(stage="fix", team="dev"),
    )
    assert trace_of(parallel_life(), rating=rating).data.rating == [rating]
