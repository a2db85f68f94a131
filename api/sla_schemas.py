"""Request and response shapes of the SLA, calendar, notification and KPI endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from api.schemas import Strict
from domain.sla import WAITING_PATTERN, Priority


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


class SetPriorityRequest(Strict):
    """Change a ticket's priority."""

    priority: Priority
    reason: str = Field(default="", max_length=2000)


class PauseRequest(Strict):
    """Put a ticket on hold, waiting for someone outside."""

    reason: str = Field(pattern=WAITING_PATTERN, description="e.g. customer, supplier")
    note: str = Field(default="", max_length=2000)


class ResumeRequest(Strict):
    """End a ticket's wait."""

    note: str = Field(default="", max_length=2000)


class RungView(BaseModel):
    """One rung of a clock's ladder: when it fires (or fired)."""

    index: int
    name: str
    offset_seconds: float
    due_at: datetime | None
    fired_at: datetime | None
    actions: list[str]


class ClockView(BaseModel):
    """One SLA clock, computed at the moment of the request."""

    id: str
    stage: str | None
    round: int
    milestone: bool
    calendar: str
    state: str
    target_seconds: float
    elapsed_seconds: float
    remaining_seconds: float
    paused_seconds: float
    started_at: datetime
    due_at: datetime | None = Field(description="The deadline if the clock keeps running.")
    stopped_at: datetime | None
    breached_at: datetime | None
    rungs: list[RungView]


class TicketSlaView(BaseModel):
    """A ticket's priority, wait and clocks."""

    key: str
    priority: str | None = None  # absent when the caller may not read ticket.priority
    waiting_for: str | None
    as_of: datetime
    clocks: list[ClockView]


class NotificationView(BaseModel):
    """A notification to one recipient."""

    model_config = ConfigDict(from_attributes=True)

    ticket_key: str
    seq: int
    recipient: str
    subject: str
    body: str
    channel: str
    status: str
    created_at: datetime


class KpiReport(BaseModel):
    """Service KPIs over the tickets matching the filters (from the SQL projections)."""

    tickets: int
    first_response_seconds_avg: float | None
    first_responses: int
    mttr_seconds_avg: float | None
    resolved: int
    sla_met: int
    sla_breached: int
    sla_cancelled: int = Field(description="Clocks of cancelled tickets: not in the met rate.")
    sla_met_rate: float | None
    escalations_by_rung: list[dict[str, Any]]
    open_tickets_by_clock_state: dict[str, int]
