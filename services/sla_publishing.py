"""Publishing calendars, and checking a definition's SLA policies against published calendars."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from domain.calendars import ALWAYS, BusinessCalendar, calendar_problems
from domain.definitions import ProcessDefinition
from domain.problems import Problem, Rejected, pointer
from domain.sla import SlaPolicy, policy_problems
from services.publishing import insert_next_version, model_problems
from store import calendars as store
from store.models import CalendarRow


def check_calendar(*, document: object) -> BusinessCalendar:
    """Validate a calendar document completely; Rejected lists every problem."""
    try:
        calendar = BusinessCalendar.model_validate(document)
    except ValidationError as exc:
        raise Rejected(model_problems(exc=exc)) from exc
    problems = calendar_problems(calendar)
    if calendar.key == ALWAYS:
        problems.append(Problem(pointer="/key", detail="24x7 is built in and cannot be published"))
    if problems:
        raise Rejected(problems)
    return calendar


async def publish_calendar(
    *, session: AsyncSession, document: object, published_by: str
) -> CalendarRow:
    """Check a calendar and store it as the next version of its key (immutable)."""
    calendar = check_calendar(document=document)

    async def insert(version: int) -> CalendarRow:
        calendar.version = version
        return await store.insert_calendar(
            session=session, calendar=calendar, published_by=published_by, now=datetime.now(UTC)
        )

    return await insert_next_version(
        session=session,
        next_version=lambda: store.next_calendar_version(session=session, key=calendar.key),
        insert=insert,
    )


async def resolve_calendar(
    session: AsyncSession,
    ref: str,
    at: str,
    definition: ProcessDefinition,
    problems: list[Problem],
) -> str | None:
    """Pin a calendar reference to a published version, carried inline; None when unknown."""
    if ref == ALWAYS:
        return ref
    key, _, version = ref.partition("@")
    if version and not version.isdigit():
        problems.append(Problem(pointer=at, detail="use key or key@version"))
        return None
    row = await store.get_calendar(
        session=session, key=key, version=int(version) if version else None
    )
    if row is None:
        problems.append(Problem(pointer=at, detail=f"unknown calendar {ref}"))
        return None
    calendar = BusinessCalendar.model_validate(row.document)
    definition.calendars[calendar.ref] = calendar
    return calendar.ref


async def _resolve_calendar(
    session: AsyncSession,
    policy: SlaPolicy,
    at: tuple[str | int, ...],
    definition: ProcessDefinition,
    problems: list[Problem],
) -> None:
    """Pin the policy to a published calendar version and carry that calendar inline."""
    pinned = await resolve_calendar(
        session, policy.calendar, pointer(*at, "calendar"), definition, problems
    )
    if pinned is not None:
        policy.calendar = pinned


async def check_sla(*, session: AsyncSession, definition: ProcessDefinition) -> list[Problem]:
    """Every problem of the definition's SLA policies; calendars are pinned and carried inline."""
    problems: list[Problem] = []
    definition.calendars = {}
    found: list[tuple[SlaPolicy, tuple[str | int, ...], bool]] = []
    if definition.sla is not None:
        found.append((definition.sla, ("sla",), False))
    for i, stage in enumerate(definition.stages):
        if stage.sla is not None:
            found.append((stage.sla, ("stages", i, "sla"), True))
        elif stage.milestone:
            problems.append(
                Problem(
                    pointer=pointer("stages", i, "milestone"),
                    detail="a milestone needs an sla: its due date is the SLA deadline",
                )
            )
    for policy, at, is_stage in found:
        problems += policy_problems(policy, at, stage=is_stage)
        await _resolve_calendar(session, policy, at, definition, problems)
    return problems
