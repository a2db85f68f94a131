"""Publishing care strategies: checked completely, calendars pinned, stored as versions."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from domain.calendars import ALWAYS, BusinessCalendar
from domain.care import CareStrategy, calendar_actions, strategy_problems
from domain.definitions import ProcessDefinition
from domain.json_values import value_problems
from domain.problems import Problem, Rejected, pointer
from services.publishing import insert_next_version, model_problems
from store import calendars as calendars_store
from store import care as store
from store.models import CareStrategyRow


async def _pin_calendars(
    *, session: AsyncSession, strategy: CareStrategy, problems: list[Problem]
) -> None:
    """Pin every calendar a delay names to a published version, carried inline."""
    strategy.calendars = {}
    for action, at in calendar_actions(strategy):
        ref = action.calendar or ALWAYS
        if ref == ALWAYS:
            continue
        key, _, version = ref.partition("@")
        if version and not version.isdigit():
            problems.append(Problem(pointer=pointer(*at), detail="use key or key@version"))
            continue
        row = await calendars_store.get_calendar(
            session=session, key=key, version=int(version) if version else None
        )
        if row is None:
            problems.append(Problem(pointer=pointer(*at), detail=f"unknown calendar {ref}"))
            continue
        calendar = BusinessCalendar.model_validate(row.document)
        strategy.calendars[calendar.ref] = calendar
        action.calendar = calendar.ref


async def check_strategy(*, session: AsyncSession, document: object) -> CareStrategy:
    """Validate a strategy completely; Rejected lists every problem (calendars pinned)."""
    problems = value_problems(document)
    if problems:
        raise Rejected(problems)
    try:
        strategy = CareStrategy.model_validate(document)
    except ValidationError as exc:
        raise Rejected(model_problems(exc=exc)) from exc
    problems = strategy_problems(strategy)
    await _pin_calendars(session=session, strategy=strategy, problems=problems)
    if problems:
        raise Rejected(problems)
    return strategy


async def publish_strategy(
    *, session: AsyncSession, document: object, published_by: str
) -> CareStrategyRow:
    """Check a strategy and store it as the next version of its key (immutable)."""
    strategy = await check_strategy(session=session, document=document)

    async def insert(version: int) -> CareStrategyRow:
        strategy.version = version
        return await store.insert_strategy(
            session=session, strategy=strategy, published_by=published_by, now=datetime.now(UTC)
        )

    return await insert_next_version(
        session=session,
        next_version=lambda: store.next_strategy_version(session=session, key=strategy.key),
        insert=insert,
    )


def stored_strategy(row: CareStrategyRow) -> CareStrategy:
    """The strategy a stored version holds."""
    return CareStrategy.model_validate(row.document)


async def pin_definition_care(
    *, session: AsyncSession, definition: ProcessDefinition
) -> list[Problem]:
    """Pin the strategy a definition opts into (`care`) and carry it inline; its problems.

    The strategy must be published (the version given, else the latest), and the intake form
    must declare `customer_id`, since care goes to the customer a ticket names.
    """
    care = definition.care
    if care is None:
        return []
    problems: list[Problem] = []
    intake = definition.intake_form or {}
    declared = intake.get("properties") if isinstance(intake, dict) else None
    if not isinstance(declared, dict) or "customer_id" not in declared:
        problems.append(
            Problem(
                pointer="/care",
                detail="care goes to the customer a ticket names: the intake form must"
                " declare customer_id",
            )
        )
    row = await store.get_strategy(session=session, key=care.strategy, version=care.version)
    if row is None:
        at, which = (
            ("/care/version", f"{care.strategy}@{care.version}")
            if care.version is not None
            and await store.get_strategy(session=session, key=care.strategy) is not None
            else ("/care/strategy", care.strategy)
        )
        problems.append(Problem(pointer=at, detail=f"no published care strategy {which}"))
        return problems
    care.snapshot = stored_strategy(row)
    care.version = row.version
    return problems
