"""Business calendars: publish one, list them, read a version."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, status
from pydantic import BaseModel

from api.deps import ActorDep, SessionDep, require_roles
from api.params import Version
from api.problems import ProblemError
from api.routes.definitions import _document
from domain.calendars import ALWAYS_CALENDAR
from domain.problems import Rejected
from domain.ticket import Actor
from policies.authorization import (
    PUBLISH,
)
from services.sla_publishing import publish_calendar
from store import calendars as calendars_store
from store.models import CalendarRow


class CalendarSummary(BaseModel):
    """A published calendar version (or the built-in 24x7)."""

    key: str
    version: int
    ref: str
    title: str
    timezone: str
    published_at: datetime | None = None
    published_by: str | None = None


class CalendarDetail(CalendarSummary):
    """A calendar version with its full document."""

    document: dict[str, Any]


router = APIRouter(tags=["sla"])
Publisher = Annotated[Actor, Depends(require_roles(*PUBLISH))]


def _calendar(row: CalendarRow) -> CalendarDetail:
    return CalendarDetail(
        key=row.key,
        version=row.version,
        ref=f"{row.key}@{row.version}",
        title=row.title,
        timezone=row.timezone,
        published_at=row.published_at,
        published_by=row.published_by,
        document=row.document,
    )


BUILT_IN = CalendarDetail(
    key=ALWAYS_CALENDAR.key,
    version=0,
    ref=ALWAYS_CALENDAR.ref,
    title=ALWAYS_CALENDAR.title,
    timezone=ALWAYS_CALENDAR.timezone,
    document=ALWAYS_CALENDAR.model_dump(mode="json"),
)


@router.post("/calendars", status_code=status.HTTP_201_CREATED, response_model=CalendarDetail)
async def create_calendar(
    request: Request, session: SessionDep, actor: Publisher
) -> CalendarDetail:
    """Check a business calendar (JSON or YAML) completely and publish its next version."""
    document = await _document(request)
    try:
        row = await publish_calendar(session=session, document=document, published_by=actor.user)
    except Rejected as exc:
        raise ProblemError(422, "the calendar is not valid", problems=exc.problems) from exc
    await session.commit()
    return _calendar(row)


@router.get("/calendars", response_model=list[CalendarSummary])
async def list_calendars(session: SessionDep, _actor: ActorDep) -> list[CalendarSummary]:
    """The built-in 24x7 calendar and every published version of every calendar."""
    rows = await calendars_store.list_calendars(session=session)
    return [BUILT_IN, *(_calendar(r) for r in rows)]


@router.get("/calendars/{key}", response_model=CalendarDetail)
async def latest_calendar(key: str, session: SessionDep, _actor: ActorDep) -> CalendarDetail:
    """The latest version of a calendar."""
    if key == BUILT_IN.key:
        return BUILT_IN
    row = await calendars_store.get_calendar(session=session, key=key)
    if row is None:
        raise ProblemError(404, f"no calendar {key}")
    return _calendar(row)


@router.get("/calendars/{key}/versions", response_model=list[CalendarSummary])
async def calendar_versions(
    key: str, session: SessionDep, _actor: ActorDep
) -> list[CalendarSummary]:
    """Every version of one calendar, newest first."""
    rows = await calendars_store.list_calendars(session=session, key=key)
    if not rows:
        raise ProblemError(404, f"no calendar {key}")
    return [_calendar(r) for r in rows]


@router.get("/calendars/{key}/versions/{version}", response_model=CalendarDetail)
async def calendar_version(
    key: str, version: Version, session: SessionDep, _actor: ActorDep
) -> CalendarDetail:
    """One version of a calendar."""
    row = await calendars_store.get_calendar(session=session, key=key, version=version)
    if row is None:
        raise ProblemError(404, f"no calendar {key}@{version}")
    return _calendar(row)
