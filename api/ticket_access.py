"""Reaching a ticket on the caller's behalf: who may see it, which fields, and sending changes."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import Caller
from api.problems import ProblemError
from api.schemas import TransitionView
from api.workflow_calls import send_update, transition_view
from domain.messages import UpdateInput
from domain.problems import Problem
from domain.ticket import Actor
from policies.access import AccessControl, ListScope, ticket_domains
from policies.authorization import (
    TaskFacts,
    Write,
    handler_departments,
    may_end_own_wait,
    may_update,
    reads_as_participant,
    refused_writes,
    update_writes,
)
from policies.decisions import Subject
from policies.redaction import FieldView
from store import tickets as store
from store.models import TicketRow
from store.participants import current_pauser, handling_facts


def subject_of(actor: Actor, *, owner: bool) -> Subject:
    """The policy subject for this caller on a ticket they did (not) request."""
    return Subject(user=actor.user, role=actor.role, home=actor.department, owner=owner)


async def ticket_views(
    *, session: AsyncSession, access: AccessControl, actor: Actor, rows: list[TicketRow]
) -> list[FieldView]:
    """The caller's view of each ticket (one query for who handles and handled them)."""
    tasks, took_part = await handling_facts(session=session, keys=[r.key for r in rows])
    views = []
    for row in rows:
        catalog = await access.catalog(session, row.definition_key, row.definition_version)
        participants = took_part[row.key]
        handlers = handler_departments(
            row.department, map(TaskFacts._make, tasks[row.key]), participants
        )
        domains = ticket_domains(row.department, row.intake, handlers)
        # A person who worked the ticket reads it as their department reads those it handles.
        reading = (
            ticket_domains(actor.department, row.intake)
            if reads_as_participant(actor.user, actor.department, handlers, participants)
            else ()
        )
        subject = subject_of(actor, owner=row.requester == actor.user)
        views.append(access.view(subject, domains, catalog, reading))
    return views


async def readable_ticket(
    *, session: AsyncSession, key: str, actor: Actor, access: AccessControl
) -> tuple[TicketRow, FieldView]:
    """The ticket's row and the caller's view of it, if the caller may see it; else 404."""
    row = await store.get_ticket(session=session, key=key)
    if row is not None:
        [view] = await ticket_views(session=session, access=access, actor=actor, rows=[row])
        if view.visible():
            return row, view
    raise ProblemError(404, f"no ticket {key}")


def visible_filter(access: AccessControl, actor: Actor) -> dict[str, Any]:
    """TicketFilter arguments that pre-filter a list to what the caller could see."""
    scope: ListScope = access.list_scope(subject_of(actor, owner=False))
    if scope.everything:
        return {}
    return {
        "visible_requester": actor.user if scope.own else None,
        "visible_departments": scope.departments,
        # Tickets the caller worked are read as their home department's: in scope with it.
        "visible_participant": actor.user if actor.department in scope.departments else None,
    }


def require_writes(view: FieldView, writes: Iterable[Write]) -> None:
    """403 naming every field the caller may not write; nothing is applied."""
    refused = refused_writes(view, writes)
    if refused:
        raise ProblemError(
            403,
            f"you may not write {', '.join(w.field for w in refused)}",
            problems=[
                Problem(pointer=w.pointer, detail=f"may not write ticket.{w.field}")
                for w in refused
            ],
        )


def authorize_change(
    caller: Caller,
    row: TicketRow,
    view: FieldView,
    update: str,
    payload: BaseModel,
    *,
    ends_own_wait: bool = False,
) -> tuple[Write, ...]:
    """403 unless the caller may send this Update and write every field it writes.

    Ending the wait the caller started themselves (`ends_own_wait`) needs no write grant.
    """
    if not may_update(caller.actor.role, update, own=row.requester == caller.actor.user):
        raise ProblemError(403, f"role {caller.actor.role!r} may not {update} this ticket")
    writes = update_writes(update, payload.model_dump())
    if not (update == "resume" and ends_own_wait):
        require_writes(view, writes)
    return writes


async def change_ticket(
    caller: Caller,
    key: str,
    update: str,
    payload: UpdateInput,
    *,
    ticket: tuple[TicketRow, FieldView] | None = None,
) -> TransitionView:
    """Send an Update to a ticket the caller can see and may change; the answer is redacted.

    The fields it writes come from the Update's declaration (policies.authorization), so no
    change reaches the workflow without the write check.
    """
    row, view = ticket or await readable_ticket(
        session=caller.session, key=key, actor=caller.actor, access=caller.access
    )
    own_wait = update == "resume" and may_end_own_wait(
        caller.actor.user,
        row.waiting_for,
        await current_pauser(session=caller.session, key=key),
    )
    writes = authorize_change(caller, row, view, update, payload, ends_own_wait=own_wait)
    caller.access.usage.wrote(caller.actor.role, [w.field for w in writes])
    await caller.session.rollback()  # release the read before a possibly long Update
    result = await send_update(
        client=caller.temporal,
        key=key,
        update=update,
        payload=payload,
        user=caller.actor.user,
        idempotency_key=caller.idempotency_key,
    )
    return transition_view(result, view)
