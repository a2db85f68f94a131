"""Reading ticket, task and event projections: filters and keyset pagination."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Select,
    Text,
    Update,
    and_,
    bindparam,
    cast,
    false,
    func,
    literal_column,
    or_,
    select,
    union,
    update,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import BindParameter
from sqlalchemy.sql.functions import FunctionElement

from domain.participation import GROUP, PERSON
from domain.ticket import TicketStatus
from store.models import TaskRow, TicketEventRow, TicketParticipantRow, TicketRow
from store.outbox import queue_outbound


class BadCursor(ValueError):
    """A pagination cursor that this server did not issue."""


@dataclass(frozen=True)
class TicketFilter:
    """Optional filters for ticket lists."""

    status: str | None = None
    definition_key: str | None = None
    department: str | None = None  # owning department, or one handling it
    assignee: str | None = None
    requester: str | None = None
    # Created in [created_from, created_to), either bound optional.
    created_from: datetime | None = None
    created_to: datetime | None = None
    # Visibility: when set, only tickets requested by `visible_requester`, involving one of
    # `visible_departments` (owning it, handling it or having handled it), or worked by
    # `visible_participant`.
    visible_requester: str | None = None
    visible_departments: tuple[str, ...] | None = None
    visible_participant: str | None = None


def encode_cursor(row: TicketRow) -> str:
    """An opaque cursor after this row (newest first: created_at, key descending)."""
    raw = json.dumps([row.created_at.isoformat(), row.key]).encode()
    return base64.urlsafe_b64encode(raw).decode()


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """Read a cursor back; BadCursor if it is not one of ours."""
    try:
        created, key = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        return datetime.fromisoformat(created), str(key)
    except (ValueError, TypeError, RecursionError) as exc:
        raise BadCursor("cursor is not valid") from exc


# The statuses of a task whose group handles its ticket, with any task that ever opened: the
# SQL form of policies.authorization.handles (a test holds the two together).
HANDLING_STATUSES = ("open", "claimed", "done")


def handling_task() -> ColumnElement[bool]:
    """Tasks that make their group one of the ticket's handlers: opened, even if since cancelled."""
    return or_(
        TaskRow.status.in_(HANDLING_STATUSES),
        and_(TaskRow.status == "cancelled", TaskRow.opened_at.is_not(None)),
    )


def took_part(kind: str, names: tuple[str, ...]) -> ColumnElement[bool]:
    """Tickets one of these groups or people (domain.participation) took part in."""
    # Correlated, so each ticket read in index order is one primary-key probe, rather than
    # the whole IN list built before the first row.
    return (
        select(TicketParticipantRow.ticket_key)
        .where(
            TicketParticipantRow.ticket_key == TicketRow.key,
            TicketParticipantRow.kind == kind,
            TicketParticipantRow.name.in_(names),
        )
        .exists()
    )


class involves(FunctionElement[bool]):
    """Tickets whose `departments` include one of these names: `involves(column, *names)`."""

    type = Boolean()
    inherit_cache = True
    name = "involves"


@compiles(involves, "postgresql")
def _involves_postgresql(element: involves, compiler: SQLCompiler, **kw: Any) -> str:
    # `&&` on text[] is what the GIN index answers, and a page read in keyset order can
    # test it on the row itself.
    column, *names = element.clauses
    values = ", ".join(compiler.process(name, **kw) for name in names)
    return f"{compiler.process(column, **kw)} && CAST(ARRAY[{values}] AS TEXT[])"


@compiles(involves, "sqlite")
def _involves_sqlite(element: involves, compiler: SQLCompiler, **kw: Any) -> str:
    column, *names = element.clauses
    values = ", ".join(compiler.process(name, **kw) for name in names)
    return (
        f"EXISTS (SELECT 1 FROM json_each({compiler.process(column, **kw)})"
        f" WHERE json_each.value IN ({values}))"
    )


def involving(departments: tuple[str, ...]) -> ColumnElement[bool]:
    """Tickets these departments own, handle or handled (TicketRow.departments)."""
    return involves(TicketRow.departments, *departments)


def refresh_departments_statement(dialect: str) -> Update:
    """The UPDATE that sets one ticket's `departments` (bound `ticket_key`) from its rows."""
    key: BindParameter[str] = bindparam("ticket_key")
    names = (
        union(
            select(TicketRow.department.label("name")).where(TicketRow.key == key),
            select(TaskRow.group_name).where(TaskRow.ticket_key == key, handling_task()),
            select(TicketParticipantRow.name).where(
                TicketParticipantRow.ticket_key == key, TicketParticipantRow.kind == GROUP
            ),
        )
        .order_by(literal_column("name"))
        .subquery()
    )
    aggregate: ColumnElement[Any]
    if dialect == "postgresql":
        name = cast(names.c.name, Text)  # the column is text[], the names are varchar
        aggregate = func.array_agg(aggregate_order_by(name, name))
    else:
        # SQLite aggregates the ordered subquery's rows in that order.
        aggregate = func.json_group_array(names.c.name)
    value = select(aggregate).scalar_subquery()
    # Unchanged (most transitions), the row is not written again: no new row version.
    return (
        update(TicketRow)
        .where(TicketRow.key == key, TicketRow.departments != value)
        .values(departments=value)
        # No ORM session state to bring up to date: the projection writes through Core.
        .execution_options(synchronize_session=False)
    )


def _conditions(f: TicketFilter) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if f.status:
        conditions.append(TicketRow.status == f.status)
    if f.definition_key:
        conditions.append(TicketRow.definition_key == f.definition_key)
    if f.department:
        conditions.append(involving((f.department,)))
    if f.assignee:
        conditions.append(
            TicketRow.key.in_(select(TaskRow.ticket_key).where(TaskRow.assignee == f.assignee))
        )
    if f.requester:
        conditions.append(TicketRow.requester == f.requester)
    if f.created_from is not None:
        conditions.append(TicketRow.created_at >= f.created_from)
    if f.created_to is not None:
        conditions.append(TicketRow.created_at < f.created_to)
    # A department filter within the caller's own departments implies the visibility term;
    # left out, the planner does not take the two correlated terms for independent ones.
    implied = bool(f.department) and f.department in (f.visible_departments or ())
    if f.visible_departments is not None and not implied:
        visible: list[ColumnElement[bool]] = []
        # No departments: that term is false, so it is left out.
        if f.visible_departments:
            visible.append(involving(f.visible_departments))
        if f.visible_requester:
            visible.append(TicketRow.requester == f.visible_requester)
        if f.visible_participant:
            visible.append(took_part(PERSON, (f.visible_participant,)))
        conditions.append(or_(false(), *visible))
    return conditions


def list_query(filters: TicketFilter, limit: int, cursor: str | None) -> Select[TicketRow]:
    """The statement of a page of tickets, newest first, with one row more than `limit`."""
    query = select(TicketRow).where(*_conditions(filters))
    if cursor:
        created, key = decode_cursor(cursor)
        query = query.where(
            # The first term, implied by the second, is the one an index scan starts from.
            TicketRow.created_at <= created,
            or_(
                TicketRow.created_at < created,
                and_(TicketRow.created_at == created, TicketRow.key < key),
            ),
        )
    return query.order_by(TicketRow.created_at.desc(), TicketRow.key.desc()).limit(limit + 1)


async def list_tickets(
    *, session: AsyncSession, filters: TicketFilter, limit: int, cursor: str | None
) -> tuple[list[TicketRow], str | None]:
    """A page of tickets, newest first, and the cursor of the next page (None at the end)."""
    rows = list((await session.scalars(list_query(filters, limit, cursor))).all())
    next_cursor = encode_cursor(rows[limit - 1]) if len(rows) > limit else None
    return rows[:limit], next_cursor


async def get_ticket(*, session: AsyncSession, key: str) -> TicketRow | None:
    """One ticket row by key."""
    return await session.get(TicketRow, key)


async def get_tickets(*, session: AsyncSession, keys: list[str]) -> list[TicketRow]:
    """The ticket rows of these keys (one query), in the order the keys are given."""
    if not keys:
        return []
    rows = await session.scalars(select(TicketRow).where(TicketRow.key.in_(keys)))
    by_key = {row.key: row for row in rows}
    return [by_key[key] for key in keys if key in by_key]


# Keys per IN list: well below every database's limit on bound parameters.
_KEYS_PER_QUERY = 500


async def open_ticket_keys(*, session: AsyncSession, keys: list[str]) -> set[str]:
    """Those of these keys whose ticket is open (neither resolved, closed nor cancelled)."""
    found: set[str] = set()
    for start in range(0, len(keys), _KEYS_PER_QUERY):
        chunk = keys[start : start + _KEYS_PER_QUERY]
        rows = await session.scalars(
            select(TicketRow.key).where(
                TicketRow.key.in_(chunk), TicketRow.status == TicketStatus.OPEN.value
            )
        )
        found.update(rows)
    return found


async def list_children(*, session: AsyncSession, key: str) -> list[TicketRow]:
    """The tickets this ticket's subprocess stages started, oldest first."""
    query = (
        select(TicketRow)
        .where(TicketRow.parent_key == key)
        .order_by(TicketRow.created_at, TicketRow.key)
    )
    return list((await session.scalars(query)).all())


async def list_ticket_tasks(*, session: AsyncSession, key: str) -> list[TaskRow]:
    """Every task row of a ticket (all rounds): opened ones in opening order, then pending."""
    query = (
        select(TaskRow)
        .where(TaskRow.ticket_key == key)
        .order_by(TaskRow.round, TaskRow.opened_at.is_(None), TaskRow.opened_at, TaskRow.id)
    )
    return list((await session.scalars(query)).all())


async def list_events(
    *, session: AsyncSession, key: str, after_seq: int = 0, limit: int = 500
) -> list[TicketEventRow]:
    """A ticket's events in order, after a sequence number."""
    query = (
        select(TicketEventRow)
        .where(TicketEventRow.ticket_key == key, TicketEventRow.seq > after_seq)
        .order_by(TicketEventRow.seq)
        .limit(limit)
    )
    return list((await session.scalars(query)).all())


async def ticket_keys_since(*, session: AsyncSession, since: datetime) -> list[str]:
    """Keys of the tickets created at or after `since`, oldest first."""
    query = (
        select(TicketRow.key)
        .where(TicketRow.created_at >= since)
        .order_by(TicketRow.created_at, TicketRow.key)
    )
    return list((await session.scalars(query)).all())


async def list_all_events(*, session: AsyncSession, key: str) -> list[TicketEventRow]:
    """Every event of a ticket, in order."""
    query = (
        select(TicketEventRow).where(TicketEventRow.ticket_key == key).order_by(TicketEventRow.seq)
    )
    return list((await session.scalars(query)).all())


async def list_events_of_types(
    *, session: AsyncSession, key: str, types: tuple[str, ...]
) -> list[TicketEventRow]:
    """A ticket's events of these types, in order."""
    query = (
        select(TicketEventRow)
        .where(TicketEventRow.ticket_key == key, TicketEventRow.type.in_(types))
        .order_by(TicketEventRow.seq)
    )
    return list((await session.scalars(query)).all())


async def find_external_event(
    *, session: AsyncSession, key: str, signal_id: str
) -> TicketEventRow | None:
    """The recorded outside event of this ticket that carried this signal id, if any."""
    query = select(TicketEventRow).where(
        TicketEventRow.ticket_key == key, TicketEventRow.type == "external_event"
    )
    for row in await session.scalars(query):
        if row.data.get("signal_id") == signal_id:
            return row
    return None


async def list_tasks(
    *,
    session: AsyncSession,
    group: str | None = None,
    assignee: str | None = None,
    statuses: tuple[str, ...] = ("open", "claimed"),
    limit: int = 100,
    offset: int = 0,
) -> list[TaskRow]:
    """Tasks still to do, for a group's queue or one person, oldest first, after `offset`."""
    query = select(TaskRow).where(TaskRow.status.in_(statuses))
    if group is not None:
        query = query.where(TaskRow.group_name == group)
    if assignee is not None:
        query = query.where(TaskRow.assignee == assignee)
    query = query.order_by(TaskRow.opened_at, TaskRow.id).offset(offset).limit(limit)
    return list((await session.scalars(query)).all())


async def append_closed_event(
    *,
    session: AsyncSession,
    key: str,
    type_: str,
    at: datetime,
    actor: str,
    data: dict[str, object],
) -> int:
    """Append an event to a closed ticket's timeline at its next seq; returns that seq.

    The ticket's workflow has ended, so nothing numbers its events but writers after close
    (care, the recurrence watch). Each takes the seq under the ticket row's lock where the
    database has row locks, which also waits for the ticket's own last projection; elsewhere
    (SQLite) writes are serial anyway. The ticket's `last_seq` follows, and the event goes
    to the outbox like the ticket's own, so subscribers hear of care and recurrence too.
    """
    await session.execute(select(TicketRow.key).where(TicketRow.key == key).with_for_update())
    last = await session.scalar(
        select(func.max(TicketEventRow.seq)).where(TicketEventRow.ticket_key == key)
    )
    seq = (last or 0) + 1
    session.add(TicketEventRow(ticket_key=key, seq=seq, type=type_, at=at, actor=actor, data=data))
    await session.flush()
    await session.execute(
        update(TicketRow)
        .where(TicketRow.key == key, TicketRow.last_seq < seq)
        .values(last_seq=seq, updated_at=at)
    )
    await queue_outbound(session=session, key=key, events=[(seq, type_, at)])
    return seq
