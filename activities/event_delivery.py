"""Delivering the outbox to one subscription: read it in order, redact, then post or publish.

Each event goes out as its CloudEvent (structured JSON mode), redacted by the subscriber's own
policy like its reads are. A webhook subscription's is signed Standard Webhooks style and
posted to a URL the allow-list admits, over the same checked transport as `http.request` (no
redirects, no link-local or metadata address); an mqtt subscription's is published with QoS 1
to its topic on the configured broker, one connection per delivery call, each publish
awaiting the broker's acknowledgement before the next (so the ticket's order holds).
Every attempt is recorded; a failed one raises so that the activity's retry policy tries again.
"""

from __future__ import annotations

import asyncio
import json
import logging
import ssl
import time
import uuid
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlsplit

import aiomqtt
import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.actions.errors import refused, unavailable
from activities.actions.http import CheckedTransport, Refused, Resolver, resolve
from activities.cloud_events import structured
from domain.events_out import (
    CONTENT_TYPE,
    DELIVER_ACTIVITY,
    DELIVERED,
    FAILED,
    MQTT,
    MQTT_QOS,
    NEXT_BATCH_ACTIVITY,
    PAUSE_ACTIVITY,
    DeliverInput,
    DeliverResult,
    NextBatchInput,
    NextBatchResult,
    OutboxItem,
    PauseInput,
    PauseResult,
    event_id,
    passes,
    secret_key,
    wanted,
)
from domain.notifications import NotifyInput, paused_notification
from domain.outbound import host_refusal, url_refusal
from domain.webhook_signatures import signed_headers
from policies.access import AccessControl, ticket_domains
from policies.authorization import TaskFacts, handler_departments, reads_as_participant
from policies.decisions import Subject
from policies.event_shapes import redact_event
from policies.redaction import FieldView
from store import notifications as notifications_store
from store import outbox as outbox_store
from store import subscriptions as store
from store.models import DeliveryAttemptRow, SubscriptionRow, TicketRow
from store.participants import handling_facts
from store.tickets import get_ticket

log = logging.getLogger("ticketflow.events")

SUBSCRIPTION_GONE = "SubscriptionGone"
# How often an idle reader looks for new rows while it waits.
POLL_SECONDS = 0.1
# What an error text keeps of a receiver's answer.
MAX_ERROR = 300


def broker_params(url: str) -> dict[str, Any]:
    """aiomqtt's connection arguments for a broker URL (`mqtt://` or `mqtts://` for TLS)."""
    parts = urlsplit(url)
    tls = parts.scheme == "mqtts"
    return {
        "hostname": parts.hostname or "",
        "port": parts.port or (8883 if tls else 1883),
        "username": unquote(parts.username) if parts.username else None,
        "password": unquote(parts.password) if parts.password else None,
        "tls_context": ssl.create_default_context() if tls else None,
    }


async def subscriber_view(
    *, session: AsyncSession, access: AccessControl, row: SubscriptionRow, ticket: TicketRow
) -> FieldView:
    """What the subscriber's account may read of this ticket, decided as for its own reads."""
    tasks, took_part = await handling_facts(session=session, keys=[ticket.key])
    participants = took_part[ticket.key]
    handlers = handler_departments(
        ticket.department, map(TaskFacts._make, tasks[ticket.key]), participants
    )
    reading = (
        ticket_domains(row.owner_department, ticket.intake)
        if reads_as_participant(row.owner, row.owner_department, handlers, participants)
        else ()
    )
    subject = Subject(
        user=row.owner,
        role=row.owner_role,
        home=row.owner_department,
        owner=ticket.requester == row.owner,
    )
    catalog = await access.catalog(session, ticket.definition_key, ticket.definition_version)
    return access.view(
        subject, ticket_domains(ticket.department, ticket.intake, handlers), catalog, reading
    )


class EventDeliveryActivities:
    """Holds the session factory, the allow-list and one HTTP client for every delivery."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        write_turn: AbstractAsyncContextManager[object],
        allowed_hosts: list[str],
        *,
        resolver: Resolver = resolve,
        timeout: float = 10.0,
        mqtt_url: str | None = None,
    ) -> None:
        self._sessions = sessions
        # The projection's queue: on SQLite every writer of this process waits in it.
        self._write_turn = write_turn
        self._allowed = tuple(allowed_hosts)
        self._access = AccessControl()
        self._resolver = resolver
        self._timeout = timeout
        self._client: httpx.AsyncClient | None = None
        self._broker = broker_params(mqtt_url) if mqtt_url else None

    def _http(self) -> httpx.AsyncClient:
        # Made on first use, on the worker's loop; its pool keeps connections to receivers.
        if self._client is None:
            self._client = httpx.AsyncClient(
                transport=CheckedTransport(self._resolver),
                follow_redirects=False,
                timeout=self._timeout,
                trust_env=False,
                event_hooks={"request": [self._check_request]},
            )
        return self._client

    async def aclose(self) -> None:
        """Close the HTTP client (the worker is done)."""
        if self._client is not None:
            await self._client.aclose()

    async def _check_request(self, request: httpx.Request) -> None:
        url = request.url
        refusal = host_refusal(url.scheme, url.raw_host.decode("ascii"), url.port, self._allowed)
        if refusal is not None:
            raise Refused(refusal)

    @activity.defn(name=NEXT_BATCH_ACTIVITY)
    async def next_outbox_batch(self, ask: NextBatchInput) -> NextBatchResult:
        """The outbox rows after the position, waiting up to `wait_seconds` for one to arrive."""
        deadline = time.monotonic() + ask.wait_seconds
        while True:
            async with self._sessions() as session:
                items = await outbox_store.outbox_after(
                    session=session, after=ask.after, limit=ask.limit
                )
            if items or time.monotonic() >= deadline:
                return NextBatchResult(items=items)
            activity.heartbeat()
            await asyncio.sleep(POLL_SECONDS)

    @activity.defn(name=DELIVER_ACTIVITY)
    async def deliver_events(self, call: DeliverInput) -> DeliverResult:
        """Deliver one ticket's rows in order, skipping those not for this subscriber.

        A failed post records its attempt and raises, so the retry policy tries again; the
        retry skips what an earlier attempt delivered, and goes on from the failed row.
        """
        async with self._sessions() as session:
            row = await store.get_subscription(
                session=session, subscription_id=call.subscription_id
            )
            if row is None:
                raise ApplicationError(
                    f"no subscription {call.subscription_id}",
                    type=SUBSCRIPTION_GONE,
                    non_retryable=True,
                )
            items = [i for i in call.items if wanted(row.event_types, i.type)]
            done = await store.delivered_among(
                session=session,
                subscription_id=row.id,
                event_ids=[event_id(i.ticket_key, i.seq) for i in items],
            )
            items = [i for i in items if event_id(i.ticket_key, i.seq) not in done]
            bodies = await self._bodies(session, row, call.ticket_key, items) if items else {}
        delivered: list[DeliveryAttemptRow] = []
        outgoing = [(item, bodies[item.seq]) for item in items if item.seq in bodies]
        try:
            if row.kind == MQTT:
                await self._publish(row, outgoing, delivered)
            else:
                for item, body in outgoing:
                    delivered.append(await self._post(row, item, body))
                    activity.heartbeat(item.seq)
        finally:
            # Kept together with a failure, or once at the end: one write per lane.
            await self._record(delivered)
        return DeliverResult(delivered=len(delivered), skipped=len(call.items) - len(delivered))

    async def _bodies(
        self, session: AsyncSession, row: SubscriptionRow, key: str, items: list[OutboxItem]
    ) -> dict[int, bytes]:
        """Each event's CloudEvent as this subscriber may read it, by seq (none: not for it)."""
        ticket = await get_ticket(session=session, key=key)
        if ticket is None:
            return {}
        events = await outbox_store.outbound_events(
            session=session, ticket_key=key, seqs=[i.seq for i in items]
        )
        await self._access.refresh(session)
        view = await subscriber_view(session=session, access=self._access, row=row, ticket=ticket)
        if not view.visible():
            return {}
        bodies: dict[int, bytes] = {}
        for seq, event in events.items():
            shown = redact_event(
                {
                    "seq": event.seq,
                    "type": event.type,
                    "at": event.at,
                    "actor": event.actor,
                    "data": event.data,
                },
                view,
            )
            if shown is None:
                continue
            body = structured(key, shown)
            if passes(row.filter, json.loads(body)):
                bodies[seq] = body
        return bodies

    async def _post(
        self, row: SubscriptionRow, item: OutboxItem, body: bytes
    ) -> DeliveryAttemptRow:
        """Post one event; its attempt when delivered, else the failure recorded and raised."""
        message_id = event_id(item.ticket_key, item.seq)
        refusal = url_refusal(row.url, self._allowed)
        if refusal is not None:
            await self._record([self._attempt(row, item, FAILED, None, refusal)])
            raise refused(f"deliveries to this URL are refused: {refusal}")
        headers = {
            "Content-Type": CONTENT_TYPE,
            **signed_headers(secret_key(row.secret), message_id, int(time.time()), body),
        }
        status: int | None = None
        try:
            response = await self._http().post(row.url, content=body, headers=headers)
            status = response.status_code
            error = (
                None
                if 200 <= status < 300
                else f"answered {status} {response.reason_phrase}".strip()
            )
        except Refused as exc:
            await self._record([self._attempt(row, item, FAILED, None, str(exc))])
            raise refused(f"deliveries to this URL are refused: {exc}") from None
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:MAX_ERROR]
        if error is not None:
            await self._record([self._attempt(row, item, FAILED, status, error)])
            raise unavailable(f"delivery of {message_id} failed: {error}")
        return self._attempt(row, item, DELIVERED, status, None)

    async def _publish(
        self,
        row: SubscriptionRow,
        outgoing: list[tuple[OutboxItem, bytes]],
        delivered: list[DeliveryAttemptRow],
    ) -> None:
        """Publish the events in order on one connection, adding each acknowledged one to
        `delivered`; the first failure is recorded and raised."""
        if not outgoing:
            return
        if self._broker is None or not row.topic:
            item = outgoing[0][0]
            refusal = "no MQTT broker is configured (TICKETFLOW_MQTT_URL)"
            await self._record([self._attempt(row, item, FAILED, None, refusal)])
            raise unavailable(f"deliveries to MQTT are refused: {refusal}")
        try:
            async with aiomqtt.Client(
                **self._broker,
                identifier=f"ticketflow-{uuid.uuid4().hex[:12]}",
                timeout=self._timeout,
            ) as client:
                for item, body in outgoing:
                    await client.publish(row.topic, body, qos=MQTT_QOS, timeout=self._timeout)
                    delivered.append(self._attempt(row, item, DELIVERED, None, None))
                    activity.heartbeat(item.seq)
        except (aiomqtt.MqttError, OSError) as exc:
            item = outgoing[len(delivered)][0]
            error = f"{type(exc).__name__}: {exc}"[:MAX_ERROR]
            await self._record([self._attempt(row, item, FAILED, None, error)])
            message = f"publishing {event_id(item.ticket_key, item.seq)} failed: {error}"
            raise unavailable(message) from exc

    @staticmethod
    def _attempt(
        row: SubscriptionRow, item: OutboxItem, outcome: str, status: int | None, error: str | None
    ) -> DeliveryAttemptRow:
        return DeliveryAttemptRow(
            subscription_id=row.id,
            event_id=event_id(item.ticket_key, item.seq),
            ticket_key=item.ticket_key,
            event_type=item.type,
            attempt=activity.info().attempt,
            at=datetime.now(UTC),
            outcome=outcome,
            status_code=status,
            error=error,
        )

    async def _record(self, attempts: list[DeliveryAttemptRow]) -> None:
        if not attempts:
            return
        async with self._write_turn, self._sessions() as session, session.begin():
            await store.record_attempts(session=session, rows=attempts)

    @activity.defn(name=PAUSE_ACTIVITY)
    async def pause_subscription(self, call: PauseInput) -> PauseResult:
        """Pause a subscription that kept failing, and notify its owner in the same transaction.

        Only the call that pauses it notifies: a retry finds it paused already.
        """
        now = datetime.now(UTC)
        async with self._write_turn, self._sessions() as session, session.begin():
            paused = await store.set_paused(
                session=session, subscription_id=call.subscription_id, reason=call.reason, now=now
            )
            row = await store.get_subscription(
                session=session, subscription_id=call.subscription_id
            )
            if paused and row is not None:
                notice = paused_notification(
                    owner=row.owner, subscription_id=row.id, reason=call.reason
                )
                seq = await notifications_store.next_seq(session=session, about=row.id)
                await notifications_store.record_notifications(
                    session=session,
                    batch=NotifyInput(ticket_key=row.id, seq=seq, at=now, notifications=[notice]),
                    channel="none",
                )
        if paused and row is not None:
            log.warning(
                "subscription %s of %s paused after failing deliveries: %s",
                row.id,
                row.owner,
                call.reason,
            )
        return PauseResult(paused=paused)
