"""Subscriptions to ticket events: checking and recording one, shared by the API and the CLI."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from domain.events_out import (
    ACTIVE,
    MAX_EVENT_TYPES,
    MAX_TOPIC,
    MAX_URL,
    MQTT,
    WEBHOOK,
    SubscriptionKind,
    filter_problem,
    secret_key,
    topic_problem,
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

    kind: SubscriptionKind = Field(
        default=WEBHOOK,
        description="`webhook`: signed POSTs to `url`; `mqtt`: published (QoS 1) to `topic` "
        "on the configured broker.",
    )
    url: str | None = Field(
        default=None, max_length=MAX_URL, description="webhook: http(s) URL on the allowed hosts."
    )
    topic: str | None = Field(
        default=None,
        max_length=MAX_TOPIC,
        description=f"mqtt: the topic, no wildcards, at most {MAX_TOPIC} bytes.",
    )
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
    secret: str | None = Field(
        default=None,
        description="webhook: the signing secret, `whsec_` and the base64 of 24-64 bytes.",
    )


def _mqtt_problems(request: SubscriptionRequest, broker: bool) -> list[Problem]:
    problems: list[Problem] = []
    if not broker:
        detail = "no MQTT broker is configured (TICKETFLOW_MQTT_URL)"
        problems.append(Problem(pointer="/kind", detail=detail))
    if request.topic is None:
        problems.append(Problem(pointer="/topic", detail="an mqtt subscription names a topic"))
    else:
        problem = topic_problem(request.topic)
        if problem is not None:
            problems.append(Problem(pointer="/topic", detail=problem))
    for name in ("url", "secret"):
        if getattr(request, name) is not None:
            detail = f"an mqtt subscription has no {name}: it goes to the configured broker"
            problems.append(Problem(pointer=f"/{name}", detail=detail))
    return problems


def _webhook_problems(request: SubscriptionRequest, allowed: list[str]) -> list[Problem]:
    problems: list[Problem] = []
    if request.url is None:
        problems.append(Problem(pointer="/url", detail="a webhook subscription names a url"))
    else:
        refusal = url_refusal(request.url, allowed)
        if refusal is not None:
            problems.append(Problem(pointer="/url", detail=refusal))
    if request.topic is not None:
        detail = "a webhook subscription has no topic (that is kind mqtt)"
        problems.append(Problem(pointer="/topic", detail=detail))
    if request.secret is None:
        problems.append(
            Problem(pointer="/secret", detail="a webhook subscription signs: a secret whsec_...")
        )
    else:
        try:
            secret_key(request.secret)
        except ValueError as exc:
            problems.append(Problem(pointer="/secret", detail=str(exc)))
    return problems


def subscription_problems(
    request: SubscriptionRequest, allowed: list[str], broker: bool = False
) -> list[Problem]:
    """Every problem of a subscription request, each with its pointer.

    `broker` says whether an MQTT broker is configured (mqtt subscriptions need one).
    """
    problems = (
        _mqtt_problems(request, broker)
        if request.kind == MQTT
        else _webhook_problems(request, allowed)
    )
    problems += type_problems(request.event_types, EVENT_TYPES)
    if request.filter is not None:
        problem = filter_problem(request.filter)
        if problem is not None:
            problems.append(Problem(pointer="/filter", detail=problem))
    return problems


async def create_subscription(
    *,
    session: AsyncSession,
    request: SubscriptionRequest,
    owner: Actor,
    allowed: list[str],
    broker: bool = False,
) -> SubscriptionRow:
    """Check and record a subscription owned by `owner`; Rejected listing every problem."""
    problems = subscription_problems(request, allowed, broker)
    if problems:
        raise Rejected(problems)
    row = SubscriptionRow(
        id=uuid.uuid4().hex,
        owner=owner.user,
        owner_role=owner.role,
        owner_department=owner.department,
        kind=request.kind,
        url=request.url or "",
        topic=request.topic,
        event_types=list(dict.fromkeys(request.event_types)),
        filter=request.filter,
        secret=request.secret or "",
        status=ACTIVE,
        created_at=datetime.now(UTC),
        paused_at=None,
        paused_reason=None,
    )
    await store.add_subscription(session=session, row=row)
    return row
