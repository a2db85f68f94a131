"""The delivery activities on SQLite: every event type signed; a pause notifies once; MQTT fails.

Run in Temporal's activity environment (no server): a retried pause must not notify twice,
and a broker that does not answer is an attempt recorded as failed and an error to retry.
"""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.cloud_events import read_structured
from activities.event_delivery import EventDeliveryActivities, broker_params
from domain.events_out import ACTIVE, MQTT, DeliverInput, OutboxItem, PauseInput
from domain.webhook_signatures import verified
from policies.event_shapes import EVENT_SHAPES
from store.models import DeliveryAttemptRow, NotificationRow, SubscriptionRow, TicketEventRow
from store.outbox import outbox_after, queue_outbound
from store.projection import apply_projection
from tests.api.webhook_receiver import receiving
from tests.dbutil import migrated_sessions, sqlite_url
from tests.store.snapshots import event, snapshot


@pytest.fixture
async def sessions(tmp_path: Path) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """A migrated SQLite database."""
    async with migrated_sessions(sqlite_url(tmp_path)) as made:
        yield made


async def _subscription(sessions: async_sessionmaker[AsyncSession], kind: str) -> SubscriptionRow:
    row = SubscriptionRow(
        id=uuid.uuid4().hex,
        owner="monitor",
        owner_role="system",
        owner_department="it",
        kind=kind,
        url="",
        topic="ticketflow/test" if kind == MQTT else None,
        event_types=[],
        filter=None,
        secret="",
        status=ACTIVE,
        created_at=datetime.now(UTC),
        paused_at=None,
        paused_reason=None,
    )
    async with sessions() as session, session.begin():
        session.add(row)
    return row


async def test_a_pause_notifies_the_owner_once_and_each_pause_again(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    row = await _subscription(sessions, "webhook")
    deliveries = EventDeliveryActivities(sessions, asyncio.Lock(), [])
    pause = PauseInput(subscription_id=row.id, reason="events of IT-1: answered 503")
    environment = ActivityEnvironment()
    assert (await environment.run(deliveries.pause_subscription, pause)).paused
    # A retry of the same pause (it is paused already) tells no one again.
    assert not (await environment.run(deliveries.pause_subscription, pause)).paused
    async with sessions() as session, session.begin():
        [notice] = list(await session.scalars(select(NotificationRow)))
        assert (notice.ticket_key, notice.seq, notice.recipient) == (row.id, 1, "user:monitor")
        assert notice.body == pause.reason
        assert notice.parts is not None
        assert notice.parts["kind"] == "subscription_paused"
        stored = await session.get(SubscriptionRow, row.id)
        assert stored is not None
        stored.status = ACTIVE  # resumed
    assert (await environment.run(deliveries.pause_subscription, pause)).paused
    async with sessions() as session:
        seqs = list(
            await session.scalars(select(NotificationRow.seq).order_by(NotificationRow.seq))
        )
    assert seqs == [1, 2]


async def test_a_broker_that_does_not_answer_is_a_failed_attempt_to_retry(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    row = await _subscription(sessions, MQTT)
    # Nothing listens on port 1 of the loopback: the connection is refused at once.
    deliveries = EventDeliveryActivities(
        sessions, asyncio.Lock(), [], timeout=2.0, mqtt_url="mqtt://127.0.0.1:1"
    )
    item = OutboxItem(position=1, ticket_key="IT-1", seq=3, type="created")
    delivered: list[DeliveryAttemptRow] = []

    async def publish() -> None:
        await deliveries._publish(row, [(item, b"{}")], delivered)

    with pytest.raises(ApplicationError) as caught:
        await ActivityEnvironment().run(publish)
    assert not caught.value.non_retryable
    assert delivered == []
    async with sessions() as session:
        [attempt] = list(await session.scalars(select(DeliveryAttemptRow)))
    assert (attempt.event_id, attempt.outcome) == ("IT-1-3", "failed")
    assert attempt.error


def test_broker_urls() -> None:
    plain = broker_params("mqtt://127.0.0.1")
    assert (plain["hostname"], plain["port"], plain["tls_context"]) == ("127.0.0.1", 1883, None)
    secure = broker_params("mqtts://ops%40it:p%2Fw@broker.example.com")
    assert (secure["port"], secure["username"], secure["password"]) == (8883, "ops@it", "p/w")
    assert secure["tls_context"] is not None


async def test_every_event_type_arrives_signed_verifiable_and_typed(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    types = sorted(EVENT_SHAPES)
    events = [event(seq, type_) for seq, type_ in enumerate(types, start=1)]
    async with sessions() as session, session.begin():
        # The rows as the projection leaves them, without its per-type bookkeeping.
        await apply_projection(
            session=session, ticket=snapshot("ALL-1", last_seq=len(events)), events=[]
        )
        session.add_all(
            TicketEventRow(
                ticket_key="ALL-1", seq=e.seq, type=e.type, at=e.at, actor=e.actor, data={}
            )
            for e in events
        )
        await session.flush()
        await queue_outbound(
            session=session, key="ALL-1", events=[(e.seq, e.type, e.at) for e in events]
        )
    key = bytes(range(32))
    async with receiving() as receiver:
        row = await _subscription(sessions, "webhook")
        async with sessions() as session, session.begin():
            stored = await session.get(SubscriptionRow, row.id)
            assert stored is not None
            stored.owner, stored.owner_role, stored.owner_department = "root", "admin", "it"
            stored.url = receiver.url("all")
            stored.secret = "whsec_" + base64.b64encode(key).decode()
        async with sessions() as session:
            items = await outbox_after(session=session, after=0, limit=len(types) + 1)
        deliveries = EventDeliveryActivities(sessions, asyncio.Lock(), [receiver.allowed])
        try:
            result = await ActivityEnvironment().run(
                deliveries.deliver_events,
                DeliverInput(subscription_id=row.id, ticket_key="ALL-1", items=items),
            )
        finally:
            await deliveries.aclose()
    assert result.delivered == len(types)
    now = int(datetime.now(UTC).timestamp())
    arrived = receiver.accepted["all"]
    for delivery in arrived:
        assert verified(key, delivery.headers, delivery.body, now)
    shown = [read_structured(d.body).get_attributes() for d in arrived]
    assert [a["type"] for a in shown] == ["ticketflow.ticket." + t for t in types]
    assert [a["id"] for a in shown] == [f"ALL-1-{seq}" for seq in range(1, len(types) + 1)]
