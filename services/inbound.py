"""Receiving a connector's event: map it, then file its ticket or signal the open one, once.

An event id is seen once per connector: a repeat answers with the ticket the first went to.
The filing runs under an Idempotency-Key made of the event id, and the signal carries an id
the ticket records once, so a delivery retried after a crash (or two at once) still makes
one ticket and one timeline entry; the row in `inbound_events` is written last.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from jsonpointer import JsonPointer, JsonPointerException
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from domain.inbound import (
    CREATED,
    MAX_CORRELATION,
    SIGNALLED,
    Connector,
    InboundAnswer,
    filing_key,
    signal_id,
)
from domain.messages import EXTERNAL_SIGNAL, ExternalEventInput
from domain.problems import Problem, Rejected
from domain.ticket import Actor
from services.ticket_creation import file_ticket, load_definition
from store import inbound as store
from store.models import InboundEventRow, TicketRow

_MISSING = object()


@dataclass(frozen=True)
class Mapped:
    """An inbound event read through its connector: its correlation key and its intake."""

    correlation: str
    intake: dict[str, Any]


def _resolve(document: Any, pointer: str) -> Any:
    try:
        return JsonPointer(pointer).resolve(document, _MISSING)
    except JsonPointerException:
        return _MISSING


def map_event(connector: Connector, document: Any) -> Mapped:
    """The event's correlation key and intake fields; Rejected with each missing pointer."""
    problems: list[Problem] = []
    if not isinstance(document, dict):
        raise Rejected([Problem(pointer="", detail="the event is a JSON object")])
    found = _resolve(document, connector.correlation)
    correlation = ""
    if found is _MISSING:
        problems.append(
            Problem(pointer=connector.correlation, detail="the correlation key is missing")
        )
    elif isinstance(found, bool) or not isinstance(found, str | int) or str(found) == "":
        problems.append(
            Problem(
                pointer=connector.correlation,
                detail="the correlation key is a non-empty string or an integer",
            )
        )
    elif len(str(found)) > MAX_CORRELATION:
        problems.append(
            Problem(
                pointer=connector.correlation,
                detail=f"the correlation key holds at most {MAX_CORRELATION} characters",
            )
        )
    else:
        correlation = str(found)
    intake: dict[str, Any] = {}
    for field, pointer in connector.fields.items():
        value = _resolve(document, pointer)
        if value is _MISSING:
            problems.append(
                Problem(pointer=pointer, detail=f"missing: intake field {field!r} comes from here")
            )
        else:
            intake[field] = value
    if problems:
        raise Rejected(problems)
    return Mapped(correlation=correlation, intake=intake)


def event_problems(connector: Connector, problems: list[Problem]) -> list[Problem]:
    """The form's problems with the intake, by the inbound pointer each field came from."""
    sources = {f"/data/{field}": pointer for field, pointer in connector.fields.items()}
    shown = []
    for problem in problems:
        head = "/".join(problem.pointer.split("/")[:3])
        source = sources.get(head)
        if source is None:
            shown.append(problem)
        else:
            rest = problem.pointer.removeprefix(head)
            field = head.removeprefix("/data/")
            detail = f"intake field {field!r}: {problem.detail}"
            shown.append(Problem(pointer=source + rest, detail=detail))
    return shown


async def _sees_none(rows: list[TicketRow]) -> list[bool]:
    """Correlation keys decide where an event goes; the text duplicate check does not apply."""
    return [False] * len(rows)


async def _signal(
    client: Client, key: str, connector: Connector, event_id: str, document: dict[str, Any]
) -> bool:
    """Record the event on the ticket (once per event id); False if its workflow has ended."""
    event = ExternalEventInput(
        name=connector.event_name(),
        source=connector.source(),
        payload=document,
        signal_id=signal_id(connector.name, event_id),
    )
    try:
        await client.get_workflow_handle(key).signal(EXTERNAL_SIGNAL, event)
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            raise
        return False
    return True


async def receive_event(
    *,
    session: AsyncSession,
    client: Client,
    task_queue: str,
    connector: Connector,
    event_id: str,
    document: Any,
    caller: Actor,
) -> InboundAnswer:
    """File a ticket for the event, or signal the open ticket of its correlation key.

    The caller (a system account) files the ticket. Rejected (with the inbound pointers) for
    an event the mapping or the definition's form refuses: nothing is recorded then.
    """
    seen = await store.seen_event(session=session, connector=connector.name, event_id=event_id)
    if seen is not None:
        return InboundAnswer(ticket=seen.ticket_key, action=seen.action, replayed=True)
    mapped = map_event(connector, document)
    key = await store.open_ticket_for(
        session=session, connector=connector.name, correlation=mapped.correlation
    )
    await session.rollback()  # no transaction held open while Temporal answers
    action = SIGNALLED
    if key is None or not await _signal(client, key, connector, event_id, document):
        definition = await load_definition(session=session, key=connector.definition, version=None)
        try:
            created = await file_ticket(
                session=session,
                client=client,
                task_queue=task_queue,
                definition=definition,
                data=mapped.intake,
                requester=caller,
                idempotency_key=filing_key(connector.name, event_id),
                may_see=_sees_none,
                allow_duplicate=True,
            )
        except Rejected as exc:
            raise Rejected(event_problems(connector, exc.problems)) from exc
        key, action = created.key, CREATED
        await _signal(client, key, connector, event_id, document)
    row = InboundEventRow(
        connector=connector.name,
        event_id=event_id,
        correlation=mapped.correlation,
        ticket_key=key,
        action=action,
        received_at=datetime.now(UTC),
    )
    recorded = await store.record_event(session=session, row=row)
    first = (
        None
        if recorded
        else await store.seen_event(session=session, connector=connector.name, event_id=event_id)
    )
    await session.commit()
    if first is not None:
        return InboundAnswer(ticket=first.ticket_key, action=first.action, replayed=True)
    return InboundAnswer(ticket=key, action=action)
