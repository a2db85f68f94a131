"""Filing a ticket: validate the intake, allocate a key, start its workflow exactly once."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client, WithStartWorkflowOperation
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from domain.definitions import ProcessDefinition
from domain.device_evidence import INTAKE_DEVICE_FIELD, intake_device
from domain.json_values import value_problems
from domain.messages import StartTicketInput
from domain.problems import Problem, Rejected, pointer
from domain.recurrence import RecurrenceRef, filed_category, fingerprint_of
from domain.sla import DEFAULT_PRIORITY, Priority
from domain.ticket import Actor, TicketStatus
from domain.triage import DUPLICATE_SIGNAL, DuplicateReportInput
from forms.validation import data_problems_in_thread
from services.customers import intake_customer_problems
from services.duplicates import DuplicateMatch, find_duplicates, report_excerpt
from store import definitions as definitions_store
from store import devices as devices_store
from store import keys as keys_store
from store import recurrence as recurrence_store
from store.models import IdempotencyRow, TicketRow
from workflows import search_attributes as sa
from workflows.ticket import TicketWorkflow

log = logging.getLogger("ticketflow.tickets")

# A key can already name a workflow if the app database was reset while Temporal kept its
# history; such keys are skipped, but only this many in a row before giving up loudly.
MAX_KEY_COLLISIONS = 20
# Temporal's answers to a start that no retry can change (a payload over its size limit, say):
# nothing was started, so the reservation is undone.
REFUSED_STARTS = frozenset(
    {RPCStatusCode.INVALID_ARGUMENT, RPCStatusCode.FAILED_PRECONDITION, RPCStatusCode.OUT_OF_RANGE}
)
FILED_BY = "filed_by"


class IdempotencyMismatch(Exception):
    """An Idempotency-Key reused with a different request."""


class KeyCollisions(Exception):
    """Too many allocated keys already named workflows: the key sequence is behind Temporal."""


# Which of these ticket rows the filing requester may see (as the ticket read decides it).
SeeTickets = Callable[[list[TicketRow]], Awaitable[list[bool]]]


@dataclass(frozen=True)
class DuplicateCheck:
    """A repeat the requester may see (reported to), and the best they may not (linked)."""

    told: DuplicateMatch | None = None
    hidden: DuplicateMatch | None = None


@dataclass(frozen=True)
class Created:
    """A filed ticket; `replayed` when an Idempotency-Key returned an earlier one."""

    key: str
    definition: ProcessDefinition
    replayed: bool
    duplicate_of: str | None = None


def request_fingerprint(
    *, definition: ProcessDefinition, data: dict[str, Any], priority: Priority
) -> str:
    """A fingerprint of a filing request, to tell a retry from a different request."""
    # The default priority leaves the hash as it was before priorities existed.
    extra = [] if priority == DEFAULT_PRIORITY else [priority]
    canonical = json.dumps([definition.key, definition.version, data, *extra], sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def filing_memo(*, user: str, idempotency_key: str | None, fingerprint: str) -> dict[str, str]:
    """The workflow memo naming the idempotent request that files it (empty without a key).

    When a key turns out to name a workflow already, this tells a concurrent retry of the same
    request (which started it first: the ticket is ours) from a leftover of an app database
    reset (a stranger: skip the key).
    """
    if not idempotency_key:
        return {}
    token = hashlib.sha256(f"{user}\0{idempotency_key}\0{fingerprint}".encode()).hexdigest()
    return {FILED_BY: token}


async def _start(
    *,
    client: Client,
    task_queue: str,
    start: StartTicketInput,
    conflict: WorkflowIDConflictPolicy,
    memo: dict[str, str],
) -> None:
    """Start the workflow and wait until its creation is projected into SQL."""
    operation = WithStartWorkflowOperation(
        TicketWorkflow.run,
        start,
        id=start.key,
        task_queue=task_queue,
        memo=memo or None,
        id_conflict_policy=conflict,
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        search_attributes=TypedSearchAttributes(
            [
                SearchAttributePair(sa.TICKET_STATE, TicketStatus.OPEN.value),
                SearchAttributePair(sa.TICKET_DEFINITION, start.definition.key),
            ]
        ),
    )
    await client.execute_update_with_start_workflow(
        TicketWorkflow.opened, start_workflow_operation=operation, id=f"{start.key}:opened"
    )


async def _started(client: Client, key: str) -> bool:
    """Whether a workflow runs or ran under `key`."""
    try:
        await client.get_workflow_handle(key).describe()
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return False
        raise
    return True


async def _check_encodable(client: Client, start: StartTicketInput) -> None:
    """Encode the workflow input as the start will, so a failure refuses before any write."""
    try:
        await client.data_converter.encode([start])
    except (TypeError, ValueError, RecursionError) as exc:
        raise Rejected(
            [Problem(pointer="/data", detail=f"the intake cannot be sent to its workflow: {exc}")]
        ) from exc


async def device_problems(*, session: AsyncSession, data: dict[str, Any]) -> list[Problem]:
    """An intake naming a device the registry does not hold (one indexed read), at /device_id."""
    device_id = intake_device(data)
    if device_id is None or await devices_store.get_device(session=session, device_id=device_id):
        return []
    return [
        Problem(
            pointer=pointer(INTAKE_DEVICE_FIELD),
            detail=f"no registered device {device_id!r}: register it first (POST /devices)",
        )
    ]


async def find_recurrence(
    *,
    session: AsyncSession,
    definition: ProcessDefinition,
    data: dict[str, Any],
    now: datetime | None = None,
) -> RecurrenceRef | None:
    """The closed ticket this filing recurs: the same fingerprint, closed within 30 days and
    still under watch (the most recently closed of them); None if there is none."""
    found = fingerprint_of(data, filed_category(definition.key))
    if found is None:
        return None
    return await recurrence_store.watched_ticket(
        session=session, fingerprint=found.digest, now=now or datetime.now(UTC)
    )


async def _release(
    *,
    session: AsyncSession,
    definition: ProcessDefinition,
    key: str,
    requester: Actor,
    idempotency_key: str | None,
) -> None:
    """Undo a reservation whose workflow was refused: no key burnt, no record left behind."""
    if idempotency_key:
        await keys_store.forget_idempotent_create(
            session=session, user=requester.user, key=idempotency_key
        )
    await keys_store.release_ticket_key(session=session, prefix=definition.key_prefix, key=key)
    await session.commit()


async def _filed_by(client: Client, key: str) -> str | None:
    """The filing token in the memo of the workflow under this key, if any."""
    description = await client.get_workflow_handle(key).describe()
    token = (await description.memo()).get(FILED_BY)
    return token if isinstance(token, str) else None


async def load_definition(
    *, session: AsyncSession, key: str, version: int | None
) -> ProcessDefinition:
    """The published definition to file against; Rejected if there is none."""
    definition = await definitions_store.published_definition(
        session=session, key=key, version=version
    )
    if definition is None:
        wanted = key + (f"@{version}" if version else "")
        raise Rejected([Problem(pointer="/definition", detail=f"no published definition {wanted}")])
    return definition


async def _replay(
    *,
    client: Client,
    task_queue: str,
    earlier: IdempotencyRow,
    request_hash: str,
    start: StartTicketInput,
) -> Created:
    """Answer a repeated Idempotency-Key with its ticket, finishing its start if need be."""
    if earlier.request_hash != request_hash:
        raise IdempotencyMismatch(earlier.key)
    start = start.model_copy(update={"key": earlier.ticket_key})
    memo = filing_memo(
        user=start.requester.user, idempotency_key=earlier.key, fingerprint=request_hash
    )
    # WorkflowAlreadyStarted here means the ticket has since closed: still the answer.
    with suppress(WorkflowAlreadyStartedError):
        await _start(
            client=client,
            task_queue=task_queue,
            start=start,
            conflict=WorkflowIDConflictPolicy.USE_EXISTING,
            memo=memo,
        )
    return Created(key=earlier.ticket_key, definition=start.definition, replayed=True)


async def check_duplicates(
    *,
    session: AsyncSession,
    definition: ProcessDefinition,
    data: dict[str, Any],
    requester: Actor,
    may_see: SeeTickets,
) -> DuplicateCheck:
    """The repeat to report to (the most similar the requester may see) and the one to link.

    What the requester is told depends only on tickets they may see, so filing tells them
    nothing about others' tickets; the most similar one they may not see is only linked.
    """
    matches = await find_duplicates(
        session=session, definition=definition, data=data, requester=requester
    )
    if not matches:
        return DuplicateCheck()
    seen = await may_see([m.row for m in matches])
    told = next((m for m, ok in zip(matches, seen, strict=True) if ok), None)
    hidden = next((m for m, ok in zip(matches, seen, strict=True) if not ok), None)
    return DuplicateCheck(told=told, hidden=hidden)


async def link_duplicate(
    *,
    client: Client,
    definition: ProcessDefinition,
    match: DuplicateMatch,
    data: dict[str, Any],
    requester: Actor,
    report_id: str = "",
) -> Created | None:
    """Signal the open ticket this report repeats; None when that ticket has closed since.

    `report_id` names an idempotent request, so that its retries are reported only once.
    """
    report = DuplicateReportInput(
        requester=requester.user,
        excerpt=report_excerpt(intake=data),
        similarity=match.similarity,
        report_id=report_id,
    )
    try:
        await client.get_workflow_handle(match.key).signal(DUPLICATE_SIGNAL, report)
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            raise
        return None  # it closed since the projection said open: file a new ticket after all
    return Created(key=match.key, definition=definition, replayed=False, duplicate_of=match.key)


async def link_related(
    *, client: Client, match: DuplicateMatch, key: str, report_id: str = ""
) -> None:
    """Link a newly filed ticket and the open one it may repeat, both ways, for handlers.

    Best effort: a link is a hint for handlers, the original may have closed meanwhile, and
    the filing must answer the same whether or not its report matched a hidden ticket.
    """
    links = (
        (match.key, DuplicateReportInput(requester="", related_key=key, relation="repeated_by")),
        (key, DuplicateReportInput(requester="", related_key=match.key, relation="repeats")),
    )
    for target, report in links:
        report = report.model_copy(update={"similarity": match.similarity, "report_id": report_id})
        try:
            await client.get_workflow_handle(target).signal(DUPLICATE_SIGNAL, report)
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:
                log.warning("could not link ticket %s to %s: %s", target, report.related_key, exc)


async def _filed(
    client: Client,
    definition: ProcessDefinition,
    key: str,
    related: DuplicateMatch | None,
    report_id: str,
) -> Created:
    """The new ticket, linked first to the open one it may repeat."""
    if related is not None:
        await link_related(client=client, match=related, key=key, report_id=report_id)
    return Created(key=key, definition=definition, replayed=False)


async def file_ticket(
    *,
    session: AsyncSession,
    client: Client,
    task_queue: str,
    definition: ProcessDefinition,
    data: dict[str, Any],
    requester: Actor,
    idempotency_key: str | None,
    may_see: SeeTickets,
    priority: Priority = DEFAULT_PRIORITY,
    allow_duplicate: bool = False,
) -> Created:
    """Validate the intake, then start the ticket; a repeated Idempotency-Key returns the first.

    A repeat of an open ticket the requester may see (`may_see`, per the definition's
    duplicate settings) is reported to it instead, unless `allow_duplicate`; a repeat of one
    they may not see is filed as usual and the two tickets are linked for their handlers.

    An intake naming a device (`device_id`) must name a registered one: its workflow reads it
    at creation, before triage. A filing with the fingerprint of a ticket closed within 30
    days and still under watch is that ticket's recurrence (`find_recurrence`).

    Nothing is written for refused input: everything that can fail (the form, the device, what
    the stores can hold, the workflow input's encoding) is checked before the key and
    idempotency record are committed, and a start Temporal refuses for good gives both back.
    They are committed before the workflow starts, so a retry after a crash in between
    finishes the same ticket.
    """
    problems = value_problems(data)
    if not problems:
        problems = await data_problems_in_thread(definition.intake_form or {}, data)
        if all(p.pointer != pointer(INTAKE_DEVICE_FIELD) for p in problems):
            problems += await device_problems(session=session, data=data)
        problems += await intake_customer_problems(session=session, data=data)
    if problems:
        raise Rejected([p.model_copy(update={"pointer": "/data" + p.pointer}) for p in problems])
    fingerprint = request_fingerprint(definition=definition, data=data, priority=priority)
    memo = filing_memo(
        user=requester.user, idempotency_key=idempotency_key, fingerprint=fingerprint
    )
    # A recurrence says so in the new ticket's timeline, and its workflow tells the closed
    # ticket's watch; the filer is told nothing about the closed ticket.
    start = StartTicketInput(
        key="",
        definition=definition,
        intake=data,
        requester=requester,
        priority=priority,
        recurrence_of=await find_recurrence(session=session, definition=definition, data=data),
    )
    await _check_encodable(client, start)
    if idempotency_key:
        earlier = await keys_store.find_idempotent_create(
            session=session, user=requester.user, key=idempotency_key
        )
        if earlier is not None:
            return await _replay(
                client=client,
                task_queue=task_queue,
                earlier=earlier,
                request_hash=fingerprint,
                start=start,
            )
    report_id = memo.get(FILED_BY, "")
    check = DuplicateCheck()
    if not allow_duplicate:
        check = await check_duplicates(
            session=session,
            definition=definition,
            data=data,
            requester=requester,
            may_see=may_see,
        )
        if check.told is not None:
            linked = await link_duplicate(
                client=client,
                definition=definition,
                match=check.told,
                data=data,
                requester=requester,
                report_id=report_id,
            )
            if linked is not None:
                return linked
    # End the read transaction first: SQLite cannot turn a read snapshot into a write once
    # another connection has committed since, and would refuse at once instead of waiting.
    await session.rollback()
    for _ in range(MAX_KEY_COLLISIONS):
        reserved = await keys_store.reserve_ticket_key(
            session=session,
            prefix=definition.key_prefix,
            user=requester.user,
            idempotency_key=idempotency_key,
            request_hash=fingerprint,
            now=datetime.now(UTC),
        )
        if isinstance(reserved, IdempotencyRow):
            return await _replay(
                client=client,
                task_queue=task_queue,
                earlier=reserved,
                request_hash=fingerprint,
                start=start,
            )
        try:
            await _start(
                client=client,
                task_queue=task_queue,
                start=start.model_copy(update={"key": reserved}),
                conflict=WorkflowIDConflictPolicy.FAIL,
                memo=memo,
            )
        except RPCError as exc:
            # A refused start left nothing, but a worker lost while the workflow's first task
            # ran the create's Update fails it with FAILED_PRECONDITION after the start.
            if exc.status not in REFUSED_STARTS or await _started(client, reserved):
                raise  # transient: the key and record stay, so a retry finishes this ticket
            await _release(
                session=session,
                definition=definition,
                key=reserved,
                requester=requester,
                idempotency_key=idempotency_key,
            )
            raise Rejected(
                [Problem(pointer="/data", detail=f"Temporal refused the ticket: {exc.message}")]
            ) from exc
        except WorkflowAlreadyStartedError:
            if memo and await _filed_by(client, reserved) == memo[FILED_BY]:
                # A concurrent retry of this very request started it first: it is ours.
                await _start(
                    client=client,
                    task_queue=task_queue,
                    start=start.model_copy(update={"key": reserved}),
                    conflict=WorkflowIDConflictPolicy.USE_EXISTING,
                    memo=memo,
                )
                return await _filed(client, definition, reserved, check.hidden, report_id)
            log.warning("ticket key %s already names a workflow; taking the next key", reserved)
            if idempotency_key:
                await keys_store.forget_idempotent_create(
                    session=session, user=requester.user, key=idempotency_key
                )
                await session.commit()
            continue
        return await _filed(client, definition, reserved, check.hidden, report_id)
    raise KeyCollisions(definition.key_prefix)
