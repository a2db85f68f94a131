"""The authorization module's pure rules: Updates and their writes, handlers, Update ids."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from itertools import product
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import workflow

from api.workflow_calls import request_fingerprint, update_id
from domain.messages import CommentInput, CompleteInput
from domain.participation import GROUP, PERSON, Participant, participants_of
from domain.ticket import Actor, TaskStatus, TicketEvent, TicketState
from policies.authorization import (
    UPDATES,
    TaskFacts,
    Write,
    creation_writes,
    handler_departments,
    handles,
    may_call,
    may_dispatch,
    may_end_own_wait,
    may_hold_task,
    may_read_notifications_of,
    may_update,
    reads_as_participant,
    sees_stage_clocks,
    update_writes,
)
from store.projection import apply_projection
from store.tickets import TicketFilter, list_tickets
from tests.builders import actor, incident
from tests.dbutil import database_params, fresh_database, migrated_sessions
from tests.store.snapshots import T0, snapshot, task
from workflows.ticket import TicketWorkflow

# fmt: off
HANDLES = [
    # (status, ever opened) -> the task's group handles the ticket
    ("pending", False, False),     # a future stage
    ("pending", True, False),      # (a pending task has never opened; if a row says so: no)
    ("open", True, True),
    ("claimed", True, True),
    ("done", True, True),
    ("cancelled", False, False),   # cancelled before it ever opened
    ("cancelled", True, True),     # cancelled after its group had worked on it
]
# fmt: on


@pytest.mark.parametrize(("status", "opened", "expected"), HANDLES)
def test_a_department_handles_a_ticket_from_the_moment_its_task_opens(
    status: str, opened: bool, expected: bool
) -> None:
    assert handles(TaskFacts("ops", status, opened)) is expected


def test_handlers_are_the_owner_always_then_every_department_whose_task_opened() -> None:
    tasks = [
        TaskFacts("ops", "pending", False),
        TaskFacts("dev", "open", True),
        TaskFacts("field", "cancelled", False),
        TaskFacts("service-desk", "done", True),
        TaskFacts("audit-team", "cancelled", True),
    ]
    assert handler_departments("service-desk", tasks) == ("service-desk", "audit-team", "dev")
    assert handler_departments("hr", []) == ("hr",)


OPS, DEV, OTTO, DEVI = (
    Participant(GROUP, "ops"),
    Participant(GROUP, "dev"),
    Participant(PERSON, "otto"),
    Participant(PERSON, "devi"),
)
MOVED = {"task": "T:diagnose:1", "stage": "diagnose", "group": "dev", "assignee": None}
# fmt: off
PARTICIPANTS = [
    # (event type, actor, data) -> who it shows took part
    ("task_opened", "system", {**MOVED, "group": "ops"}, {OPS}),
    ("task_claimed", "otto", {**MOVED, "group": "ops", "assignee": "otto"}, {OPS, OTTO}),
    ("task_unclaimed", "otto", {**MOVED, "group": "ops"}, {OPS}),
    # The SLA (or an agent) moves otto's task to dev: both groups and otto took part.
    ("task_reassigned", "sla", {**MOVED, "before": {"group": "ops", "assignee": "otto"}},
     {OPS, DEV, OTTO}),
    # Handed to devi in dev: she holds it.
    ("task_reassigned", "otto",
     {**MOVED, "assignee": "devi", "before": {"group": "ops", "assignee": "otto"}},
     {OPS, DEV, OTTO, DEVI}),
    # An admin completes a task in dev: the completer held it.
    ("task_completed", "root", {**MOVED, "assignee": "root"}, {DEV, Participant(PERSON, "root")}),
    ("waiting_started", "otto", {"reason": "supplier", "note": ""}, {OTTO}),
    # Triage routing moves a task before or after it opens: its opening and claims are their
    # own events, and where it went is its row.
    ("task_routed", "triage", {**MOVED, "group": "ops", "before": {"group": "desk"}}, set()),
    # Ending a wait, commenting, changing the priority: no part in the work.
    ("waiting_ended", "rita", {"reason": "customer", "note": ""}, set()),
    ("comment_added", "dana", {"body": "x", "internal": True}, set()),
    ("priority_changed", "sla", {"from": "P3", "to": "P2"}, set()),
]
# fmt: on


@pytest.mark.parametrize(("type_", "actor", "data", "expected"), PARTICIPANTS)
def test_the_events_name_who_took_part(
    type_: str, actor: str, data: dict[str, object], expected: set[Participant]
) -> None:
    assert participants_of(type_, actor, data) == expected


def test_a_group_a_task_moved_away_from_still_handles_the_ticket() -> None:
    now_in_dev = [TaskFacts("dev", "open", True)]
    assert handler_departments("service-desk", now_in_dev) == ("service-desk", "dev")
    assert handler_departments("service-desk", now_in_dev, [OPS, DEV, OTTO]) == (
        "service-desk",
        "dev",
        "ops",
    )
    # People are not departments.
    assert handler_departments("service-desk", [], [OTTO]) == ("service-desk",)


# fmt: off
READS_AS_PARTICIPANT = [
    # (user, home, handlers, participants) -> reads for having worked it
    ("otto", "field", ("service-desk", "ops"), {OPS, OTTO}, True),    # moved departments
    ("otto", "ops", ("service-desk", "ops"), {OPS, OTTO}, False),     # ops's part covers him
    ("dora", "field", ("service-desk", "ops"), {OPS, OTTO}, False),   # never worked it
    ("ops", "field", ("service-desk", "ops"), {OPS}, False),          # a group is not a person
]
# fmt: on


@pytest.mark.parametrize(
    ("user", "home", "handlers", "participants", "expected"), READS_AS_PARTICIPANT
)
def test_a_person_reads_what_they_worked_beyond_their_departments_part(
    user: str, home: str, handlers: tuple[str, ...], participants: set[Participant], expected: bool
) -> None:
    assert reads_as_participant(user, home, handlers, participants) is expected


# fmt: off
OWN_WAIT = [
    # (user, waiting for, who started the latest wait) -> may end it whatever else they write
    ("otto", "supplier", "otto", True),
    ("dora", "supplier", "otto", False),   # someone else's wait: the department rule decides
    ("otto", None, "otto", False),         # the wait is over already
    ("otto", "supplier", None, False),
]
# fmt: on


@pytest.mark.parametrize(("user", "waiting_for", "pauser", "expected"), OWN_WAIT)
def test_whoever_started_a_wait_may_end_it(
    user: str, waiting_for: str | None, pauser: str | None, expected: bool
) -> None:
    assert may_end_own_wait(user, waiting_for, pauser) is expected


@asynccontextmanager
async def _sessions(kind: str, tmp_path: Path) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    with fresh_database(kind, tmp_path, migrated=True) as url:
        async with migrated_sessions(url) as sessions:
            yield sessions


@pytest.mark.parametrize("kind", database_params())
async def test_the_list_filters_in_sql_apply_the_same_handler_rule(
    kind: str, tmp_path: Path
) -> None:
    combos = list(product(TaskStatus, (False, True)))
    expected = {
        f"H-{i}"
        for i, (status, opened) in enumerate(combos)
        if handles(TaskFacts("ops", status.value, opened))
    }
    # Tickets whose ops task has since moved to dev (by the SLA or a person): what their
    # events say against where the task is now.
    moves = [
        [("task_reassigned", "sla", {**MOVED, "before": {"group": "ops", "assignee": "otto"}})],
        [("task_reassigned", "otto", {**MOVED, "assignee": "devi", "before": {"group": "ops"}})],
        [("task_opened", "system", {**MOVED, "group": "dev"})],
        [("waiting_started", "otto", {"reason": "supplier", "note": ""})],
    ]
    for i, history in enumerate(moves):
        took_part = set().union(*(participants_of(*e) for e in history))
        if "ops" in handler_departments("desk", [TaskFacts("dev", "open", True)], took_part):
            expected.add(f"M-{i}")
    assert {"M-0", "M-1"} <= expected
    async with _sessions(kind, tmp_path) as sessions:
        async with sessions() as session, session.begin():
            for i, (status, opened) in enumerate(combos):
                key = f"H-{i}"
                row = task(key, group="ops", status=status, opened_at=T0 if opened else None)
                ticket = snapshot(key, department="desk", tasks=[row])
                await apply_projection(session=session, ticket=ticket, events=[])
            for i, history in enumerate(moves):
                key = f"M-{i}"
                events = [
                    TicketEvent(seq=seq, type=type_, at=T0, actor=who, data=data)
                    for seq, (type_, who, data) in enumerate(history, start=2)
                ]
                ticket = snapshot(key, department="desk", tasks=[task(key, group="dev")])
                await apply_projection(session=session, ticket=ticket, events=events)
        async with sessions() as session:
            for filters in (
                TicketFilter(department="ops"),
                TicketFilter(visible_departments=("ops",)),
            ):
                rows, _ = await list_tickets(
                    session=session, filters=filters, limit=100, cursor=None
                )
                assert {r.key for r in rows} == expected, filters
            # A person's tickets: those whose events name them, whatever the departments.
            worked = {
                f"M-{i}"
                for i, history in enumerate(moves)
                if Participant(PERSON, "otto")
                in set().union(*(participants_of(*e) for e in history))
            }
            assert worked == {"M-0", "M-3"}
            mine = TicketFilter(visible_departments=("field",), visible_participant="otto")
            rows, _ = await list_tickets(session=session, filters=mine, limit=100, cursor=None)
            assert {r.key for r in rows} == worked


def test_every_update_of_the_ticket_workflow_declares_what_it_writes() -> None:
    declared = workflow._Definition.must_from_class(TicketWorkflow).updates
    # `opened` is sent only by ticket creation, never on a caller's behalf.
    assert set(declared) - {"opened"} == set(UPDATES)
    assert not may_update("admin", "opened", own=True)
    assert not may_update("admin", "no-such-update", own=True)


def test_each_update_names_the_fields_its_payload_writes() -> None:
    assert update_writes("comment", {"body": "x", "internal": True}) == (
        Write("internal_comments", "/internal_comments"),
    )
    assert update_writes("complete", {"data": {"root_cause": "x", "log": "y"}}) == (
        Write("root_cause", "/data/root_cause"),
        Write("log", "/data/log"),
    )
    assert [w.field for w in update_writes("dispatch", {"team": "ops", "priority": None})] == [
        "tasks",
        "triage",
    ]
    assert [w.field for w in update_writes("reassign", {"to_user": "otto"})] == ["assignee"]
    assert [w.field for w in update_writes("reassign", {"to_group": "dev"})] == [
        "assignee",
        "tasks",
    ]
    assert creation_writes({"title": "t"}, priority_given=True) == (
        Write("title", "/data/title"),
        Write("priority", "/priority"),
    )
    assert update_writes("complete", {"data": {"a/b~c": 1}}) == (Write("a/b~c", "/data/a~1b~0c"),)
    assert creation_writes({"title": "t"}, priority_given=False) == (Write("title", "/data/title"),)


def test_role_gates_admit_admins_always_and_auditors_to_no_update() -> None:
    assert may_call("admin", ())
    assert not may_call("requester", ("agent",))
    for update in UPDATES:
        assert may_update("admin", update, own=False)
        assert not may_update("auditor", update, own=True)
    # Tasks go to members of their group, or to admins.
    assert may_hold_task("agent", "ops", "ops")
    assert not may_hold_task("agent", "dev", "ops")
    assert may_hold_task("admin", "it", "ops")
    own = ["user:rita", "group:sales", "role:requester"]
    assert may_read_notifications_of("requester", "group:sales", own)
    assert not may_read_notifications_of("requester", "group:ops", own)
    assert may_read_notifications_of("auditor", "group:ops", [])
    assert not sees_stage_clocks("requester")
    assert sees_stage_clocks("agent")


def test_update_ids_are_scoped_by_update_and_caller_and_never_cut() -> None:
    ids = {
        update_id(update=u, user=user, idempotency_key=k)
        for u, user, k in product(("comment", "complete"), ("rita", "root"), ("k1", "k2"))
    }
    assert len(ids) == 8
    long_a, long_b = "x" * 199 + "a", "x" * 199 + "b"
    a = update_id(update="comment", user="rita", idempotency_key=long_a)
    b = update_id(update="comment", user="rita", idempotency_key=long_b)
    assert a != b
    assert len(a) == len(b) == 64
    # Without a key every request is its own.
    fresh = {update_id(update="comment", user="rita", idempotency_key=None) for _ in range(3)}
    assert len(fresh) == 3
    # The separator cannot be forged: ("a\0b", "c") and ("a", "b\0c") differ.
    assert update_id(update="comment", user="a\0b", idempotency_key="c") != update_id(
        update="comment", user="a", idempotency_key="b\0c"
    )


def test_fingerprints_tell_bodies_apart_but_not_who_sends_them() -> None:
    rita = Actor(user="rita", department="sales", role="requester")
    moved = Actor(user="rita", department="ops", role="agent")
    one = request_fingerprint("comment", CommentInput(actor=rita, body="hi"))
    assert one == request_fingerprint("comment", CommentInput(actor=moved, body="hi"))
    assert one != request_fingerprint("comment", CommentInput(actor=rita, body="hi!"))
    assert one != request_fingerprint("cancel", CommentInput(actor=rita, body="hi"))
    first = CompleteInput(stage_key="s", actor=rita, data={"a": 1, "b": 2})
    reordered = CompleteInput(stage_key="s", actor=rita, data={"b": 2, "a": 1})
    assert request_fingerprint("complete", first) == request_fingerprint("complete", reordered)


def test_a_signal_recorded_under_an_id_is_not_recorded_again() -> None:
    state = TicketState.create(
        key="S-1",
        definition=incident(),
        intake={"title": "x"},
        requester=actor("rita", "sales"),
        now=T0,
    )
    first = state.record_external("external_update", "monitor", {}, T0, signal_id="s1")
    assert first is not None
    assert state.record_external("external_update", "monitor", {"x": 1}, T0, signal_id="s1") is None
    assert state.record_external("external_update", "monitor", {}, T0) is not None
    assert state.record_external("external_update", "monitor", {}, T0) is not None
    assert [e.type for e in state.events].count("external_event") == 3


def test_dispatching_is_the_dispatcher_groups_and_admins() -> None:
    assert may_dispatch("agent", "service-desk", "service-desk")
    assert may_dispatch("admin", "it", "service-desk")
    assert not may_dispatch("agent", "ops", "service-desk")
    assert not may_dispatch("requester", "sales", "service-desk")
    # A requester in the dispatcher's department still dispatches nothing: the role gate says so.
    assert not may_update("requester", "dispatch", own=True)
