"""The departments kept on the ticket row: the projection keeps them, the list filters read them.

The lists used to find a ticket's handlers by probing tasks and participants per row; they now
read `tickets.departments`. The first test follows one ticket through its life; the second
compares, on generated tickets, every page the new filters give each caller with the pages the
old predicate gives on the same rows.
"""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, false, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.participation import GROUP, PERSON
from domain.ticket import Task, TaskStatus, TicketEvent, TicketSnapshot, TicketStatus
from policies.authorization import TaskFacts, handler_departments
from store.models import TaskRow, TicketParticipantRow, TicketRow
from store.participants import handling_facts
from store.projection import apply_projection
from store.tickets import TicketFilter, list_tickets
from tests.store.snapshots import T0, snapshot, task

Sessions = async_sessionmaker[AsyncSession]

DEPARTMENTS = ("desk", "ops", "dev", "field", "it")
PEOPLE = ("otto", "pia", "rita", "sam")


async def _departments(sessions: Sessions, key: str) -> list[str]:
    async with sessions() as session:
        row = await session.get(TicketRow, key)
        assert row is not None
        return row.departments


async def _rule(sessions: Sessions, key: str) -> list[str]:
    """The handler rule (policies.authorization) on the ticket's task and participant rows."""
    async with sessions() as session:
        row = await session.get(TicketRow, key)
        assert row is not None
        tasks, participants = await handling_facts(session=session, keys=[key])
    facts = [TaskFacts(*fact) for fact in tasks[key]]
    return sorted(handler_departments(row.department, facts, participants[key]))


async def _project(
    sessions: Sessions, ticket: TicketSnapshot, events: list[TicketEvent] | None = None
) -> None:
    async with sessions() as session, session.begin():
        await apply_projection(session=session, ticket=ticket, events=events or [])


def _moved(seq: int, task_id: str, group: str, before: str) -> TicketEvent:
    data = {"task": task_id, "stage": "fix", "group": group, "assignee": None}
    before_ = {"group": before, "assignee": None}
    return TicketEvent(
        seq=seq, type="task_reassigned", at=T0, actor="sla", data={**data, "before": before_}
    )


async def test_departments_follow_new_stages_reassigns_reopens_and_reroutes(
    session_factory: Sessions,
) -> None:
    key = "IT-1"
    first = task(key, "fix", group="ops", status=TaskStatus.PENDING, opened_at=None)
    await _project(session_factory, snapshot(key, 1, department="desk", tasks=[first]))
    # A stage not yet open gives its group nothing.
    assert await _departments(session_factory, key) == ["desk"]

    opened = first.model_copy(update={"status": TaskStatus.OPEN, "opened_at": T0})
    await _project(session_factory, snapshot(key, 2, department="desk", tasks=[opened]))
    assert await _departments(session_factory, key) == ["desk", "ops"]

    # Reassigned by the SLA: the task now names dev, the event keeps ops.
    moved = opened.model_copy(update={"group": "dev"})
    ticket = snapshot(key, 3, department="desk", tasks=[moved])
    await _project(session_factory, ticket, [_moved(3, moved.id, "dev", "ops")])
    assert await _departments(session_factory, key) == ["desk", "dev", "ops"]

    # A new stage opens for the field team.
    visit = task(key, "visit", group="field")
    await _project(session_factory, snapshot(key, 4, department="desk", tasks=[moved, visit]))
    assert await _departments(session_factory, key) == ["desk", "dev", "field", "ops"]

    # Rerouted to another owner: the old owner, who never handled it, no longer involves it.
    ticket = snapshot(key, 5, department="it", tasks=[moved, visit])
    await _project(session_factory, ticket)
    assert await _departments(session_factory, key) == ["dev", "field", "it", "ops"]

    # Reopened: a second round of the first stage for a new group, pending, then open.
    again = task(
        key, "fix", id=f"{key}:fix:2", round=2, group="qa", status=TaskStatus.PENDING
    ).model_copy(update={"opened_at": None})
    reopened = snapshot(key, 6, department="it", status=TicketStatus.OPEN, tasks=[moved, again])
    await _project(session_factory, reopened)
    assert await _departments(session_factory, key) == ["dev", "field", "it", "ops"]
    again = again.model_copy(update={"status": TaskStatus.OPEN, "opened_at": T0})
    await _project(session_factory, snapshot(key, 7, department="it", tasks=[moved, again]))
    assert await _departments(session_factory, key) == ["dev", "field", "it", "ops", "qa"]

    # A late, older snapshot changes nothing; a group its events address still joins.
    stale = snapshot(key, 2, department="desk", tasks=[opened])
    proposal = TicketEvent(
        seq=8, type="expedite_proposed", at=T0, actor="system", data={"group": "care"}
    )
    await _project(session_factory, stale, [proposal])
    assert await _departments(session_factory, key) == ["care", "dev", "field", "it", "ops", "qa"]
    assert await _departments(session_factory, key) == await _rule(session_factory, key)


# The list predicate before the departments column: owner, handling tasks and group
# participants probed per ticket.
def _handling_task() -> ColumnElement[bool]:
    return or_(
        TaskRow.status.in_(("open", "claimed", "done")),
        and_(TaskRow.status == "cancelled", TaskRow.opened_at.is_not(None)),
    )


def _took_part(kind: str, names: tuple[str, ...]) -> ColumnElement[bool]:
    return (
        select(TicketParticipantRow.ticket_key)
        .where(
            TicketParticipantRow.ticket_key == TicketRow.key,
            TicketParticipantRow.kind == kind,
            TicketParticipantRow.name.in_(names),
        )
        .exists()
    )


def _old_involving(departments: tuple[str, ...]) -> ColumnElement[bool]:
    handled = (
        select(TaskRow.id)
        .where(
            TaskRow.ticket_key == TicketRow.key,
            TaskRow.group_name.in_(departments),
            _handling_task(),
        )
        .exists()
    )
    return or_(TicketRow.department.in_(departments), handled, _took_part(GROUP, departments))


def _old_terms(f: TicketFilter) -> list[ColumnElement[bool]]:
    terms: list[ColumnElement[bool]] = []
    if f.department:
        terms.append(_old_involving((f.department,)))
    if f.visible_departments is not None:
        visible: list[ColumnElement[bool]] = []
        if f.visible_departments:
            visible.append(_old_involving(f.visible_departments))
        if f.visible_requester:
            visible.append(TicketRow.requester == f.visible_requester)
        if f.visible_participant:
            visible.append(_took_part(PERSON, (f.visible_participant,)))
        terms.append(or_(false(), *visible))
    return terms


async def _old_pages(session: AsyncSession, f: TicketFilter, limit: int) -> list[list[str]]:
    """Every page under the old predicate and keyset."""
    terms = _old_terms(f)
    if f.status:
        terms.append(TicketRow.status == f.status)
    if f.definition_key:
        terms.append(TicketRow.definition_key == f.definition_key)
    if f.assignee:
        terms.append(
            TicketRow.key.in_(select(TaskRow.ticket_key).where(TaskRow.assignee == f.assignee))
        )
    pages: list[list[str]] = []
    after: TicketRow | None = None
    while True:
        query = select(TicketRow).where(*terms)
        if after is not None:
            query = query.where(
                or_(
                    TicketRow.created_at < after.created_at,
                    and_(TicketRow.created_at == after.created_at, TicketRow.key < after.key),
                )
            )
        query = query.order_by(TicketRow.created_at.desc(), TicketRow.key.desc()).limit(limit + 1)
        rows = list((await session.scalars(query)).all())
        pages.append([r.key for r in rows[:limit]])
        if len(rows) <= limit:
            return pages
        after = rows[limit - 1]


async def _new_pages(session: AsyncSession, f: TicketFilter, limit: int) -> list[list[str]]:
    pages: list[list[str]] = []
    cursor: str | None = None
    while True:
        rows, cursor = await list_tickets(session=session, filters=f, limit=limit, cursor=cursor)
        pages.append([r.key for r in rows])
        if cursor is None:
            return pages


def _history(rng: random.Random, key: str, created: int) -> list[tuple[TicketSnapshot, list[Any]]]:
    """A ticket's projections: tasks opening, moving, reopening; owners changing; events."""
    at = T0 + timedelta(minutes=created)
    tasks: list[Task] = []
    steps: list[tuple[TicketSnapshot, list[Any]]] = []
    department = rng.choice(DEPARTMENTS)
    requester = rng.choice(PEOPLE)
    for seq in range(1, rng.randint(1, 5) + 1):
        events: list[TicketEvent] = []
        move = rng.random()
        if move < 0.3 or not tasks:
            status = rng.choice(list(TaskStatus))
            opened = None if status is TaskStatus.PENDING else rng.choice([at, None])
            stage = f"s{len(tasks)}"
            tasks.append(
                task(
                    key,
                    stage,
                    group=rng.choice(DEPARTMENTS),
                    status=status,
                    opened_at=opened,
                    assignee=rng.choice([None, *PEOPLE]),
                )
            )
            if opened is not None and rng.random() < 0.7:
                data = {"task": tasks[-1].id, "stage": stage, "group": tasks[-1].group}
                events.append(
                    TicketEvent(seq=seq, type="task_opened", at=at, actor="system", data=data)
                )
        elif move < 0.5:
            index = rng.randrange(len(tasks))
            group = rng.choice(DEPARTMENTS)
            events.append(_moved(seq, tasks[index].id, group, tasks[index].group))
            tasks[index] = tasks[index].model_copy(update={"group": group})
        elif move < 0.65:
            index = rng.randrange(len(tasks))
            status = rng.choice(list(TaskStatus))
            tasks[index] = tasks[index].model_copy(update={"status": status})
        elif move < 0.75:
            department = rng.choice(DEPARTMENTS)
        elif move < 0.85:
            events.append(
                TicketEvent(seq=seq, type="waiting_started", at=at, actor=rng.choice(PEOPLE))
            )
        else:
            events.append(
                TicketEvent(
                    seq=seq,
                    type="expedite_proposed",
                    at=at,
                    actor="system",
                    data={"group": rng.choice(DEPARTMENTS)},
                )
            )
        ticket = snapshot(
            key,
            seq,
            department=department,
            requester=requester,
            definition_key=rng.choice(("it-incident", "facility-repair")),
            status=rng.choice(list(TicketStatus)),
            created_at=at,
            tasks=list(tasks),
        )
        steps.append((ticket, events))
    # Now and then a projection arrives twice, or late behind a newer one.
    if len(steps) > 1 and rng.random() < 0.3:
        steps.append(steps[rng.randrange(len(steps) - 1)])
    return steps


CALLERS: dict[str, dict[str, Any]] = {
    "admin": {},
    "requester": {"visible_requester": "rita", "visible_departments": ()},
    "agent": {
        "visible_requester": "otto",
        "visible_departments": ("ops",),
        "visible_participant": "otto",
    },
    "agent of two": {
        "visible_requester": "pia",
        "visible_departments": ("dev", "field"),
        "visible_participant": "pia",
    },
    "agent, no department": {
        "visible_requester": "sam",
        "visible_departments": (),
        "visible_participant": "sam",
    },
}
FILTERS: list[dict[str, Any]] = [
    {},
    *({"department": d} for d in DEPARTMENTS),
    {"department": "nobody"},
    {"status": "open"},
    {"definition_key": "facility-repair", "department": "ops"},
    {"assignee": "pia", "department": "dev"},
]


async def test_every_caller_sees_the_same_pages_as_with_the_old_predicate(
    session_factory: Sessions,
) -> None:
    rng = random.Random(27)
    async with session_factory() as session, session.begin():
        for i in range(90):
            # Some tickets share a creation time, so the keyset's tie-break on key counts.
            for ticket, events in _history(rng, f"T-{i:03d}", created=i // 3):
                await apply_projection(session=session, ticket=ticket, events=events)
    async with session_factory() as session:
        keys = list((await session.scalars(select(TicketRow.key))).all())
    for key in keys:
        assert await _departments(session_factory, key) == await _rule(session_factory, key), key
    seen = 0
    async with session_factory() as session:
        for caller, visibility in CALLERS.items():
            for filters in FILTERS:
                f = TicketFilter(**filters, **visibility)
                for limit in (4, 25):
                    old = await _old_pages(session, f, limit)
                    assert await _new_pages(session, f, limit) == old, (caller, filters, limit)
                    seen += sum(map(len, old))
    # The generated tickets give every caller something to see under most filters.
    assert seen > 1000
