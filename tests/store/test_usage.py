"""Usage metering: exact counts per day, subject and department from the records kept."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.devices import Reading, Snapshot
from domain.events_out import DELIVERED, FAILED
from domain.ticket import TicketEvent
from store.devices import insert_snapshot
from store.models import DeliveryAttemptRow, SubscriptionRow
from store.projection import apply_projection
from store.usage import UsageRow, usage
from tests.store.snapshots import T0, snapshot

Sessions = async_sessionmaker[AsyncSession]
DAY2 = T0 + timedelta(days=1)


def _event(seq: int, type_: str, at: datetime, actor: str = "system") -> TicketEvent:
    return TicketEvent(seq=seq, type=type_, at=at, actor=actor, data={})


def _reading(device_id: str, at: datetime) -> Snapshot:
    return Snapshot(
        device_id=device_id,
        device_version=1,
        site="local",
        taken_at=at,
        readings=[Reading(point="t", value=1.0, unit="°C")],
    )


def _attempt(
    subscription: str, key: str, seq: int, outcome: str, at: datetime
) -> DeliveryAttemptRow:
    return DeliveryAttemptRow(
        subscription_id=subscription,
        event_id=f"{key}-{seq}",
        ticket_key=key,
        event_type="created",
        attempt=1,
        at=at,
        outcome=outcome,
        status_code=204 if outcome == DELIVERED else 503,
        error=None,
    )


def _subscription(owner: str) -> SubscriptionRow:
    return SubscriptionRow(
        id=f"sub-{owner}",
        owner=owner,
        owner_role="system",
        owner_department="integrations",
        url="https://example.test/hook",
        event_types=[],
        filter=None,
        secret="x" * 32,
        status="active",
        created_at=T0,
        paused_at=None,
        paused_reason=None,
    )


async def _seed(sessions: Sessions) -> None:
    monitor_events = [
        _event(1, "created", T0, "monitor"),
        _event(2, "task_opened", T0),
        _event(3, "service_completed", T0 + timedelta(minutes=1)),
        _event(4, "device_snapshot_taken", T0 + timedelta(minutes=2)),
        _event(5, "task_claimed", DAY2, "dana"),
    ]
    async with sessions() as session, session.begin():
        await apply_projection(
            session=session,
            ticket=snapshot("MON-1", last_seq=5, requester="monitor", department="it-ops"),
            events=monitor_events,
            snapshots={4: _reading("press-7", T0 + timedelta(minutes=2))},
        )
        # A retried projection of the same transitions counts nothing twice.
        await apply_projection(
            session=session,
            ticket=snapshot("MON-1", last_seq=5, requester="monitor", department="it-ops"),
            events=monitor_events,
            snapshots={4: _reading("press-7", T0 + timedelta(minutes=2))},
        )
        await apply_projection(
            session=session,
            ticket=snapshot("GW-1", last_seq=3, requester="gateway", department="field"),
            events=[
                _event(1, "created", T0, "gateway"),
                _event(2, "service_failed", T0),
                _event(3, "care_action", DAY2),
            ],
        )
        # An on-demand snapshot is the asker's, in the asker's department.
        await insert_snapshot(
            session=session, snapshot=_reading("pump-1", DAY2), taken_by="dana", department="ops"
        )
        session.add_all([_subscription("monitor"), _subscription("gateway")])
        await session.flush()
        session.add_all(
            [
                _attempt("sub-monitor", "MON-1", 1, FAILED, T0),
                _attempt("sub-monitor", "MON-1", 1, DELIVERED, T0),
                _attempt("sub-monitor", "GW-1", 1, DELIVERED, T0),
                _attempt("sub-gateway", "GW-1", 2, DELIVERED, DAY2),
            ]
        )


def _table(rows: list[UsageRow]) -> list[tuple[str, str, str, dict[str, int]]]:
    return [
        (r.day, r.subject, r.department, {k: v for k, v in r.counts.items() if v}) for r in rows
    ]


async def test_each_record_is_counted_once_for_its_subject_department_and_day(
    session_factory: Sessions,
) -> None:
    await _seed(session_factory)
    async with session_factory() as session:
        rows = await usage(session=session, start=T0, end=T0 + timedelta(days=2))
    assert _table(rows) == [
        (
            "2025-03-01",
            "gateway",
            "field",
            {"tickets_created": 1, "transitions": 1, "automated_actions": 1},
        ),
        ("2025-03-01", "monitor", "field", {"deliveries": 1}),
        (
            "2025-03-01",
            "monitor",
            "it-ops",
            {
                "tickets_created": 1,
                "transitions": 3,
                "automated_actions": 1,
                "device_reads": 1,
                "deliveries": 1,
            },
        ),
        ("2025-03-02", "dana", "ops", {"device_reads": 1}),
        (
            "2025-03-02",
            "gateway",
            "field",
            {"transitions": 1, "automated_actions": 1, "deliveries": 1},
        ),
        ("2025-03-02", "monitor", "it-ops", {"transitions": 1}),
    ]


async def test_the_range_is_half_open_and_a_subject_sees_only_its_own(
    session_factory: Sessions,
) -> None:
    await _seed(session_factory)
    async with session_factory() as session:
        first_day = await usage(session=session, start=T0, end=DAY2)
        mine = await usage(session=session, start=T0, end=T0 + timedelta(days=2), subject="gateway")
        nothing = await usage(
            session=session,
            start=datetime(2030, 1, 1, tzinfo=UTC),
            end=datetime(2030, 1, 2, tzinfo=UTC),
        )
    assert {r.day for r in first_day} == {"2025-03-01"}
    assert {r.subject for r in mine} == {"gateway"}
    assert sum(r.counts["deliveries"] for r in mine) == 1
    assert nothing == []
