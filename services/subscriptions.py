"""Subscriptions to ticket events: checking and recording one, shared by the API and the CLI."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from domain.events_out import (
    ACTIVE,
    MAX_EVENT_TYPES,
    MAX_URL,
    filter_problem,
    secret_key,
    type_problems,
)
from domain.outbound import url_refusal
from domain.problems import Problem, Rejected
from domain.ticket import Actor
from policies.event_shapes import EVENT_SHAPES
from store import subscriptions as store
from store.models import SubscriptionRow

# Every ticket event type that has a declared shape (an alias such as `comment_added/internal`
# is a second shape of one type, not a type).
EVENT_TYPES = frozenset(name for name in EVENT_SHAPES if "/" not in name)


class SubscriptionRequest(BaseModel):
    """What a subscriber asks for."""

    url: str = Field(max_length=MAX_URL, description="http(s) URL on the allowed hosts.")
    event_types: list[str] = Field(
        default_factory=list,
        max_length=MAX_EVENT_TYPES,
        description="Ticket event types (`task_completed`...); empty for every type.",
    )
    filter: str | None = Field(
        default=None,
        description="A CEL condition over the CloudEvent as delivered (`type`, `subject`, "
        "`data`), like gateway conditions; events it is false or fails on are not sent.",
    )
    secret: str = Field(description="The signing secret: `whsec_` and the base64 of 24-64 bytes.")


def subscription_problems(request: SubscriptionRequest, allowed: list[str]) -> list[Problem]:
    """Every problem of a subscription request, each with its pointer."""
    problems: list[Problem] = []
    refusal = url_refusal(request.url, allowed)
    if refusal is not None:
        problems.append(Problem(pointer="/url", detail=refusal))
    problems += type_problems(request.event_types, EVENT_TYPES)
    if request.filter is not None:
        problem = filter_problem(request.filter)
        if problem is not None:
            problems.append(Problem(pointer="/filter", detail=problem))
    try:
        secret_key(request.secret)
    except ValueError as exc:
        problems.append(Problem(pointer="/secret", detail=str(exc)))
    return problems


async def create_subscription(
    *, session: AsyncSession, request: SubscriptionRequest, owner: Actor, allowed: list[str]
) -> SubscriptionRow:
    """Check and record a subscription owned by `owner`; Rejected listing every problem."""
    problems = subscription_problems(request, allowed)
    if problems:
        raise Rejected(problems)
    row = SubscriptionRow(
        id=uuid.uuid4().hex,
        owner=owner.user,
        owner_role=owner.role,
        owner_department=owner.department,
        url=request.url,
        event_types=list(dict.fromkeys(request.event_types)),
        filter=request.filter,
        secret=request.secret,
        status=ACTIVE,
        created_at=datetime.now(UTC),
        paused_at=None,
        paused_reason=None,
    )
    await store.add_subscription(session=session, row=row)
    return row
