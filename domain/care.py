"""Care strategies as data: rules by tier and context, each naming actions with their delays.

A strategy is published and versioned like a process definition. Its rules say when they apply
(the customer's tier and region, a season or a date range, the age of the product, the ticket's
category and definition); each applicable rule plans its actions, a delay after the ticket
closed (calendar time, or business time on a published calendar), `automatic` or `confirm` (a
person approves it first). `plan_care` is the pure function from a strategy, a customer and a
closed ticket to the actions planned.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from domain.calendars import ALWAYS, BusinessCalendar, add_business, zone
from domain.customers import REGION_PATTERN, TIERS, Customer
from domain.problems import Problem, pointer

ACTIONS = (
    "survey",
    "usage_tips",
    "maintenance_reminder",
    "coupon",
    "warranty_offer",
    "supervisor_call",
)
# A person's call may be opened the moment the ticket closes; a message to the customer waits.
ZERO_DELAY_ACTIONS = frozenset({"supervisor_call"})
# Beyond two years a follow-up no longer belongs to the repair it follows.
MAX_DELAY = timedelta(days=730)
MAX_RULES = 200
MAX_ACTIONS = 20
KEY_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"
MONTH_DAY_PATTERN = r"^\d{2}-\d{2}$"
Mode = Literal["automatic", "confirm"]
_REGION = re.compile(REGION_PATTERN)
# Any leap year: a season may start or end on 29 February.
_LEAP = 2000


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Season(_Strict):
    """Every year from one month-day to another, both included ("11-15" to "02-28" wraps)."""

    start: str = Field(pattern=MONTH_DAY_PATTERN, description="MM-DD")
    end: str = Field(pattern=MONTH_DAY_PATTERN, description="MM-DD")


class DateRange(_Strict):
    """From one date to another, both included."""

    start: date
    end: date


class ProductAge(_Strict):
    """How old the product is when the ticket closes, in days (either bound or both)."""

    min_days: int | None = Field(default=None, ge=0)
    max_days: int | None = Field(default=None, ge=0)


class When(_Strict):
    """When a rule applies: every condition given must hold; an empty list means any."""

    tiers: list[str] = Field(default_factory=list)
    regions: list[str] = Field(default_factory=list)
    season: Season | None = None
    dates: DateRange | None = None
    product_age: ProductAge | None = None
    categories: list[str] = Field(default_factory=list)
    definitions: list[str] = Field(default_factory=list)


class CareAction(_Strict):
    """One action of a rule: what, how long after close, and whether a person confirms it."""

    action: str
    delay: timedelta = Field(description="ISO 8601, e.g. P1D or PT4H.")
    calendar: str | None = Field(
        default=None, max_length=80, description="`key@version`: business time; none: calendar."
    )
    mode: Mode = "automatic"
    params: dict[str, Any] = Field(default_factory=dict, description="e.g. a coupon's value.")


class CareRule(_Strict):
    """A named rule: when it applies and the actions it plans."""

    name: str = Field(min_length=1, max_length=80)
    when: When = Field(default_factory=When)
    actions: list[CareAction] = Field(default_factory=list, max_length=MAX_ACTIONS)


class CareStrategy(_Strict):
    """A published care strategy: its rules in order, and the calendars they count on."""

    key: str = Field(pattern=KEY_PATTERN)
    version: int = Field(default=0, ge=0, description="Assigned on publish.")
    title: str = Field(default="", max_length=200)
    timezone: str = Field(default="UTC", max_length=64, description="Where dates are read.")
    rules: list[CareRule] = Field(default_factory=list, max_length=MAX_RULES)
    calendars: dict[str, BusinessCalendar] = Field(
        default_factory=dict, description="Filled on publish: the calendars the delays count on."
    )


class CareSettings(_Strict):
    """A definition's opt-in to care: the strategy its closed tickets' customers get."""

    strategy: str = Field(pattern=KEY_PATTERN, description="A published care strategy's key.")
    version: int | None = Field(
        default=None, ge=1, description="Pinned on publish (the latest when not given)."
    )
    snapshot: CareStrategy | None = Field(
        default=None, description="Filled on publish: the strategy version, carried inline."
    )


class TicketContext(BaseModel):
    """What a strategy reads of the closed ticket."""

    key: str
    definition: str
    category: str | None = None
    product_id: str | None = Field(default=None, description="The product the ticket was about.")


class PlannedAction(BaseModel):
    """One action to take: for which customer and ticket, when, and by which rule."""

    action: str
    mode: Mode
    due_at: datetime
    customer_id: str
    ticket_key: str
    rule: str
    params: dict[str, Any] = Field(default_factory=dict)


def _month_day(text: str) -> date | None:
    try:
        month, day = (int(part) for part in text.split("-"))
        return date(_LEAP, month, day)
    except ValueError:
        return None


def _delay_problems(action: CareAction, at: tuple[str | int, ...]) -> list[Problem]:
    where = pointer(*at, "delay")
    if action.delay < timedelta(0):
        return [Problem(pointer=where, detail="a delay cannot be negative")]
    if action.delay == timedelta(0) and action.action not in ZERO_DELAY_ACTIONS:
        allowed = ", ".join(sorted(ZERO_DELAY_ACTIONS))
        return [
            Problem(
                pointer=where,
                detail=f"{action.action} needs a delay after close (only {allowed} may be at once)",
            )
        ]
    if action.delay > MAX_DELAY:
        return [Problem(pointer=where, detail=f"at most {MAX_DELAY.days} days after close")]
    return []


def _when_problems(when: When, at: tuple[str | int, ...]) -> list[Problem]:
    problems = [
        Problem(
            pointer=pointer(*at, "tiers", i),
            detail=f"unknown tier {tier!r} (tiers: {', '.join(TIERS)})",
        )
        for i, tier in enumerate(when.tiers)
        if tier not in TIERS
    ]
    problems += [
        Problem(pointer=pointer(*at, "regions", i), detail=f"{region!r} is not a region name")
        for i, region in enumerate(when.regions)
        if _REGION.match(region) is None
    ]
    if when.season is not None:
        for end in ("start", "end"):
            if _month_day(getattr(when.season, end)) is None:
                problems.append(
                    Problem(
                        pointer=pointer(*at, "season", end),
                        detail=f"{getattr(when.season, end)!r} is not a day of the year (MM-DD)",
                    )
                )
    if when.dates is not None and when.dates.end < when.dates.start:
        problems.append(
            Problem(
                pointer=pointer(*at, "dates", "end"),
                detail=f"the range ends ({when.dates.end}) before it starts ({when.dates.start})",
            )
        )
    age = when.product_age
    if age is not None:
        if age.min_days is None and age.max_days is None:
            problems.append(
                Problem(
                    pointer=pointer(*at, "product_age"), detail="give min_days, max_days or both"
                )
            )
        elif age.min_days is not None and age.max_days is not None and age.max_days < age.min_days:
            problems.append(
                Problem(
                    pointer=pointer(*at, "product_age", "max_days"),
                    detail=f"max_days ({age.max_days}) is below min_days ({age.min_days})",
                )
            )
    return problems


def strategy_problems(strategy: CareStrategy) -> list[Problem]:
    """Every problem of a well-shaped strategy, calendars aside (they are checked on publish)."""
    problems: list[Problem] = []
    try:
        zone(strategy.timezone)
    except ValueError:
        problems.append(
            Problem(pointer="/timezone", detail=f"unknown timezone {strategy.timezone!r}")
        )
    if not strategy.rules:
        problems.append(Problem(pointer="/rules", detail="a strategy has at least one rule"))
    first: dict[str, int] = {}
    for i, rule in enumerate(strategy.rules):
        if rule.name in first:
            problems.append(
                Problem(
                    pointer=pointer("rules", i, "name"),
                    detail=f"rule name {rule.name!r} is taken by /rules/{first[rule.name]}",
                )
            )
        first.setdefault(rule.name, i)
        problems += _when_problems(rule.when, ("rules", i, "when"))
        if not rule.actions:
            problems.append(
                Problem(
                    pointer=pointer("rules", i, "actions"),
                    detail="a rule plans at least one action",
                )
            )
        for j, action in enumerate(rule.actions):
            at = ("rules", i, "actions", j)
            if action.action not in ACTIONS:
                problems.append(
                    Problem(
                        pointer=pointer(*at, "action"),
                        detail=f"unknown action {action.action!r} (actions: {', '.join(ACTIONS)})",
                    )
                )
                continue
            problems += _delay_problems(action, at)
    return problems


def calendar_actions(strategy: CareStrategy) -> list[tuple[CareAction, tuple[str | int, ...]]]:
    """Every action whose delay counts on a calendar, with where its calendar is named."""
    return [
        (action, ("rules", i, "actions", j, "calendar"))
        for i, rule in enumerate(strategy.rules)
        for j, action in enumerate(rule.actions)
        if action.calendar is not None
    ]


def _in_season(season: Season, day: date) -> bool:
    start, end = _month_day(season.start), _month_day(season.end)
    if start is None or end is None:
        return False
    today = day.replace(year=_LEAP)  # every day of every year exists in a leap year
    if start <= end:
        return start <= today <= end
    return today >= start or today <= end  # the season wraps over the new year


def _product_of(customer: Customer, ticket: TicketContext) -> date | None:
    """The purchase date of the ticket's product, or of the customer's newest one."""
    if ticket.product_id is not None:
        named = [p for p in customer.products if p.product_id == ticket.product_id]
        return named[0].purchased_on if named else None
    return max((p.purchased_on for p in customer.products), default=None)


def applies(when: When, customer: Customer, ticket: TicketContext, day: date) -> bool:
    """Whether every condition of `when` holds for this customer and ticket on this day."""
    if when.tiers and customer.tier not in when.tiers:
        return False
    if when.regions and customer.region not in when.regions:
        return False
    if when.season is not None and not _in_season(when.season, day):
        return False
    if when.dates is not None and not when.dates.start <= day <= when.dates.end:
        return False
    if when.categories and ticket.category not in when.categories:
        return False
    if when.definitions and ticket.definition not in when.definitions:
        return False
    if when.product_age is not None:
        bought = _product_of(customer, ticket)
        if bought is None:
            return False
        age = (day - bought).days
        low, high = when.product_age.min_days, when.product_age.max_days
        if (low is not None and age < low) or (high is not None and age > high):
            return False
    return True


def due_at(
    action: CareAction, closed_at: datetime, calendars: Mapping[str, BusinessCalendar]
) -> datetime:
    """When an action is due: its delay after close, in business time on its calendar if any."""
    if action.calendar is None or action.calendar == ALWAYS:
        return closed_at + action.delay
    return add_business(calendars[action.calendar], closed_at, action.delay)


def plan_care(
    strategy: CareStrategy, customer: Customer, ticket_context: TicketContext, closed_at: datetime
) -> list[PlannedAction]:
    """The actions a closed ticket's customer gets, earliest first.

    Every rule that applies plans its actions, in the strategy's order; an action an earlier
    rule already planned is not planned again, so a specific rule placed first overrides a
    general one below it. Dates (seasons, ranges, product age) are read in the strategy's
    timezone on the day the ticket closed.
    """
    day = closed_at.astimezone(zone(strategy.timezone)).date()
    planned: dict[str, PlannedAction] = {}
    for rule in strategy.rules:
        if not applies(rule.when, customer, ticket_context, day):
            continue
        for action in rule.actions:
            if action.action in planned:
                continue
            planned[action.action] = PlannedAction(
                action=action.action,
                mode=action.mode,
                due_at=due_at(action, closed_at, strategy.calendars),
                customer_id=customer.id,
                ticket_key=ticket_context.key,
                rule=rule.name,
                params=action.params,
            )
    return sorted(planned.values(), key=lambda p: (p.due_at, ACTIONS.index(p.action)))
