"""Subscriptions: outside systems receive ticket events as signed CloudEvents webhooks."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, status
from pydantic import BaseModel, ConfigDict, Field
from temporalio.service import RPCError

from api.deps import SessionDep, SettingsDep, TemporalDep, require_roles
from api.problems import PROBLEM_JSON, ProblemDocument, ProblemError
from api.schemas import Strict
from domain.events_out import (
    RESUME_SIGNAL,
    SUBSCRIPTION_WORKFLOW,
    SubscriptionStart,
    subscription_workflow_id,
)
from domain.problems import Rejected
from domain.ticket import Actor
from policies.authorization import SUBSCRIBE
from policies.roles import ADMIN
from services.subscriptions import SubscriptionRequest, create_subscription
from store import outbox as outbox_store
from store import subscriptions as store
from store.models import SubscriptionRow
from ticketflow.settings import Settings

router = APIRouter(tags=["subscriptions"])


def _problem(description: str) -> dict[str, Any]:
    """A documented answer that is a problem document (its media type included)."""
    reference = {"$ref": f"#/components/schemas/{ProblemDocument.__name__}"}
    return {"description": description, "content": {PROBLEM_JSON: {"schema": reference}}}


Subscriber = Annotated[Actor, Depends(require_roles(*SUBSCRIBE))]
SubscriptionId = Annotated[
    str, Path(pattern=r"^[0-9a-f]{32}$", description="The subscription's id.")
]


class SubscriptionBody(SubscriptionRequest, Strict):
    """A subscription to create (unknown fields refused)."""


class SubscriptionView(BaseModel):
    """A subscription as its owner sees it (never its secret)."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    owner: str
    kind: str
    url: str = Field(description="webhook: where events are posted (empty for mqtt).")
    topic: str | None = Field(description="mqtt: the topic events are published to.")
    event_types: list[str]
    filter: str | None
    status: str
    created_at: datetime
    paused_at: datetime | None
    paused_reason: str | None


class AttemptView(BaseModel):
    """One delivery attempt and what it met."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    event_id: str
    event_type: str
    attempt: int
    at: datetime
    outcome: str
    status_code: int | None
    error: str | None


def _start(row: SubscriptionRow, after: int, settings: Settings) -> SubscriptionStart:
    return SubscriptionStart(
        subscription_id=row.id,
        after=after,
        retry_for=timedelta(hours=settings.subscription_retry_hours),
        max_backoff=timedelta(seconds=settings.subscription_max_backoff_seconds),
    )


async def _own(session: SessionDep, actor: Actor, subscription_id: str) -> SubscriptionRow:
    """The subscription if the caller owns it (admins: any); else 404."""
    row = await store.get_subscription(session=session, subscription_id=subscription_id)
    if row is None or (row.owner != actor.user and actor.role != ADMIN):
        raise ProblemError(404, f"no subscription {subscription_id}")
    return row


@router.post(
    "/subscriptions",
    status_code=status.HTTP_201_CREATED,
    response_model=SubscriptionView,
    responses={503: _problem("Temporal could not start the delivery workflow.")},
)
async def subscribe(
    body: SubscriptionBody,
    session: SessionDep,
    actor: Subscriber,
    settings: SettingsDep,
    temporal: TemporalDep,
) -> SubscriptionView:
    """Subscribe a URL (signed with the given secret) or an MQTT topic to ticket events from now on.

    Events go out redacted by the caller's own policy, as CloudEvents in structured JSON mode;
    the filter sees them as delivered. An mqtt subscription needs TICKETFLOW_MQTT_URL.
    """
    try:
        row = await create_subscription(
            session=session,
            request=body,
            owner=actor,
            allowed=settings.http_allowed_hosts,
            broker=settings.mqtt_url is not None,
        )
    except Rejected as exc:
        raise ProblemError(422, "the subscription is not valid", problems=exc.problems) from exc
    after = await outbox_store.outbox_head(session=session)
    view = SubscriptionView.model_validate(row)
    try:
        await temporal.start_workflow(
            SUBSCRIPTION_WORKFLOW,
            _start(row, after, settings),
            id=subscription_workflow_id(row.id),
            task_queue=settings.task_queue,
        )
    except RPCError as exc:
        await session.rollback()
        raise ProblemError(503, f"the delivery workflow could not start: {exc.message}") from exc
    await session.commit()
    return view


@router.get("/subscriptions", response_model=list[SubscriptionView])
async def list_subscriptions(session: SessionDep, actor: Subscriber) -> list[SubscriptionView]:
    """The caller's subscriptions (an admin's: everyone's)."""
    rows = await store.list_subscriptions(
        session=session, owner=None if actor.role == ADMIN else actor.user
    )
    return [SubscriptionView.model_validate(r) for r in rows]


@router.get("/subscriptions/{subscription_id}", response_model=SubscriptionView)
async def get_subscription(
    subscription_id: SubscriptionId, session: SessionDep, actor: Subscriber
) -> SubscriptionView:
    """One of the caller's subscriptions."""
    return SubscriptionView.model_validate(await _own(session, actor, subscription_id))


@router.get("/subscriptions/{subscription_id}/deliveries", response_model=list[AttemptView])
async def deliveries(
    subscription_id: SubscriptionId,
    session: SessionDep,
    actor: Subscriber,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    before: Annotated[int | None, Query(ge=1, description="Attempts older than this id.")] = None,
) -> list[AttemptView]:
    """The subscription's delivery attempts, newest first: successes and failures."""
    row = await _own(session, actor, subscription_id)
    attempts = await store.attempts_of(
        session=session, subscription_id=row.id, limit=limit, before=before
    )
    return [AttemptView.model_validate(a) for a in attempts]


@router.post(
    "/subscriptions/{subscription_id}/resume",
    response_model=SubscriptionView,
    responses={
        409: _problem("The subscription is not paused."),
        503: _problem("Temporal could not reach the delivery workflow."),
    },
)
async def resume(
    subscription_id: SubscriptionId, session: SessionDep, actor: Subscriber, temporal: TemporalDep
) -> SubscriptionView:
    """Resume a paused subscription: its delivery workflow retries where it stopped."""
    row = await _own(session, actor, subscription_id)
    if not await store.set_active(session=session, subscription_id=row.id):
        raise ProblemError(409, f"subscription {subscription_id} is not paused")
    try:
        await temporal.get_workflow_handle(subscription_workflow_id(row.id)).signal(RESUME_SIGNAL)
    except RPCError as exc:
        await session.rollback()
        raise ProblemError(
            503, f"the delivery workflow could not be resumed: {exc.message}"
        ) from exc
    await session.commit()
    await session.refresh(row)
    return SubscriptionView.model_validate(row)
