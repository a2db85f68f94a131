"""Reaching a ticket on the caller's behalf: who may see it, which fields, and sending changes."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import Caller
from api.problems import ProblemError
from api.schemas import TransitionView
from api.workflow_calls import send_update, transition_view
from domain.problems import Problem
from domain.ticket import Actor
from policies.access import AccessControl, ListScope, ticket_domains
from policies.decisions import Subject
from policies.redaction import FieldView, denied_writes, field_pointer
from policies.roles import may_change_ticket
from store import tickets as store
from store.models import TicketRow


def subject_of(actor: Actor, *, owner: bool) -> Subject:
    """The policy subject for this caller on a ticket they did (not) request."""
    return Subject(user=actor.user, role=actor.role, home=actor.department, owner=owner)


async def ticket_views(
    *, session: AsyncSession, access: AccessControl, actor: Actor, rows: list[TicketRow]
) -> list[FieldView]:
    """The caller's view of each ticket (one query for the departments involved)."""
    groups = await store.task_groups(session=session, keys=[r.key for r in rows])
    views = []
    for row in rows:
        catalog = await access.catalog(session, row.definition_key, row.definition_version)
        domains = ticket_domains(row.department, row.intake, groups[row.key])
        subject = subject_of(actor, owner=row.requester == actor.user)
        views.append(access.view(subject, domains, catalog))
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
    }


def require_writes(view: FieldView, fields: Iterable[str], *, pointer: str = "/data") -> None:
    """403 naming every field the caller may not write; nothing is applied.

    `fields` are field paths; given as `written_fields(data)`, each pointer is the field's place.
    """
    written = fields if isinstance(fields, Mapping) else None
    denied = denied_writes(view, fields)
    if denied:
        raise ProblemError(
            403,
            f"you may not write {', '.join(denied)}",
            problems=[
                Problem(
                    pointer=pointer + field_pointer(name, written),
                    detail=f"may not write ticket.{name}",
                )
                for name in denied
            ],
        )


async def change_ticket(
    caller: Caller,
    key: str,
    update: str,
    payload: BaseModel,
    *,
    writes: Iterable[str],
    pointer: str = "",
    ticket: tuple[TicketRow, FieldView] | None = None,
) -> TransitionView:
    """Send an Update to a ticket the caller can see and may change, writing these fields."""
    row, view = ticket or await readable_ticket(
        session=caller.session, key=key, actor=caller.actor, access=caller.access
    )
    if not may_change_ticket(caller.actor.role, own=row.requester == caller.actor.user):
        raise ProblemError(403, f"role {caller.actor.role!r} may not change this ticket")
    fields = list(writes)
    require_writes(view, fields, pointer=pointer)
    caller.access.usage.wrote(caller.actor.role, fields)
    await caller.session.rollback()  # release the read before a possibly long Update
    result = await send_update(
        client=caller.temporal,
        key=key,
        update=update,
        payload=payload,
        request_id=caller.request_id,
    )
    return transition_view(result)
