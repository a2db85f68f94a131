"""The care connector against a webhook served on 127.0.0.1, and its publish-time opt-in.

Directly in an ActivityEnvironment: consent read from the ledger at send time, no channel, a
4xx that is final, a 5xx that asks to be retried, a host off the allow-list; through the real
worker on the time-skipping server: a webhook answering 503 twice is retried until it accepts.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import nullcontext
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.care import CareActivities
from domain.action_failures import FAILED, REFUSED, UNAVAILABLE
from domain.care_flow import CareSendInput
from domain.customers import ConsentGrant
from domain.problems import Rejected
from policies.management import change_rule
from services.care import publish_strategy
from services.customers import check_customer
from services.publishing import check_definition
from store import customers as customers_store
from tests.activities.endpoint import Endpoint
from tests.dbutil import migrated_sessions, sqlite_url
from tests.workflows.care_stack import DEFINITION, STRATEGY, care_stack, cared, close_ticket
from ticketflow.settings import Settings

DUE = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
async def sessions(tmp_path: Path) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """A migrated SQLite store with one customer who consents to care messages, one who not."""
    async with migrated_sessions(sqlite_url(tmp_path)) as made:
        async with made() as session, session.begin():
            now = datetime.now(UTC)
            for cid in ("C-YES", "C-NO"):
                customer = check_customer(
                    document={"id": cid, "name": "Li", "email": "li@example.com", "tier": "vip"},
                    settings=Settings(),
                )
                await customers_store.insert_customer(
                    session=session, customer=customer, created_by="carla", now=now
                )
            await customers_store.insert_consent(
                session=session,
                customer_id="C-YES",
                grant=ConsentGrant(purpose="care_messages", channel="app", text="Tips?"),
                given_at=now - timedelta(minutes=1),
                recorded_by="carla",
                token_sha256=uuid.uuid4().hex * 2,
                now=now,
            )
        yield made


def connector(
    sessions: async_sessionmaker[AsyncSession], endpoint: Endpoint, path: str | None
) -> CareActivities:
    """The connector posting to `path` on the endpoint (None: no channel configured)."""
    settings = Settings(
        http_allowed_hosts=[endpoint.allowed],
        care_webhook_url=endpoint.url(path) if path else None,
    )
    # No other writer shares the store here: no writer queue to wait in.
    return CareActivities(
        sessions, nullcontext(), settings, lambda key: f"https://t.example/f/{key}"
    )


def due(customer: str = "C-YES", action: str = "survey", message: bool = True) -> CareSendInput:
    return CareSendInput(
        ticket_key="REP-1",
        customer_id=customer,
        action=action,
        rule="vip",
        due_at=DUE,
        params={"value": 20},
        message=message,
    )


async def test_a_message_is_posted_with_consent_and_its_feedback_link(
    sessions: async_sessionmaker[AsyncSession], endpoint: Endpoint
) -> None:
    inbox = uuid.uuid4().hex[:8]
    result = await ActivityEnvironment().run(
        connector(sessions, endpoint, f"/inbox/{inbox}").send_care, due()
    )
    assert (result.outcome, result.channel, result.status) == ("sent", "webhook", 202)
    [posted] = endpoint.received[inbox]
    assert posted == {
        "id": f"care-REP-1-vip-survey-{DUE.isoformat()}",
        "action": "survey",
        "rule": "vip",
        "ticket_key": "REP-1",
        "due_at": DUE.isoformat(),
        "params": {"value": 20},
        "customer": {},  # the channel's account is granted no customer field
        "feedback_url": "https://t.example/f/REP-1",
    }


async def test_a_send_retried_carries_the_same_id_and_other_actions_others(
    sessions: async_sessionmaker[AsyncSession], endpoint: Endpoint
) -> None:
    inbox = uuid.uuid4().hex[:8]
    send = connector(sessions, endpoint, f"/inbox/{inbox}").send_care
    for call in (due(), due(), due(action="coupon")):
        await ActivityEnvironment().run(send, call)
    ids = [posted["id"] for posted in endpoint.received[inbox]]
    assert ids[0] == ids[1] != ids[2]


async def test_the_channel_gets_the_customer_fields_the_policy_grants_it(
    sessions: async_sessionmaker[AsyncSession], endpoint: Endpoint
) -> None:
    async with sessions() as session, session.begin():
        await change_rule(
            session=session,
            ptype="p",
            rule=(
                "user:care-channel",
                "customer-care/*",
                "customer.*",
                "read",
                "internal",
                "allow",
            ),
            add=True,
            actor="root",
            reason="the CRM addresses customers by name",
            now=datetime.now(UTC),
        )
    inbox = uuid.uuid4().hex[:8]
    env = ActivityEnvironment()
    await env.run(connector(sessions, endpoint, f"/inbox/{inbox}").send_care, due(action="coupon"))
    [posted] = endpoint.received[inbox]
    # Internal fields now; the contact fields stay confidential and out of the message.
    assert posted["customer"]["name"] == "Li"
    assert "email" not in posted["customer"]
    assert "feedback_url" not in posted  # only the survey asks for feedback


@pytest.mark.parametrize(
    ("customer", "message", "outcome"),
    [("C-NO", True, "no_consent"), ("C-NO", False, "sent"), ("C-YES", True, "sent")],
)
async def test_consent_is_read_at_send_time_for_messages_only(
    sessions: async_sessionmaker[AsyncSession],
    endpoint: Endpoint,
    customer: str,
    message: bool,
    outcome: str,
) -> None:
    inbox = uuid.uuid4().hex[:8]
    call = due(
        customer=customer, action="survey" if message else "supervisor_call", message=message
    )
    result = await ActivityEnvironment().run(
        connector(sessions, endpoint, f"/inbox/{inbox}").send_care, call
    )
    assert result.outcome == outcome
    assert len(endpoint.received.get(inbox, [])) == (outcome == "sent")


async def test_without_a_channel_the_action_is_recorded_only(
    sessions: async_sessionmaker[AsyncSession], endpoint: Endpoint
) -> None:
    result = await ActivityEnvironment().run(connector(sessions, endpoint, None).send_care, due())
    assert (result.outcome, result.channel) == ("recorded", "none")


@pytest.mark.parametrize(
    ("path", "failure", "retryable"),
    [("/inbox/busy?fail=1", UNAVAILABLE, True), ("/inbox/gone?fail=1&code=404", FAILED, False)],
)
async def test_a_webhook_failure_says_whether_retrying_helps(
    sessions: async_sessionmaker[AsyncSession],
    endpoint: Endpoint,
    path: str,
    failure: str,
    retryable: bool,
) -> None:
    with pytest.raises(ApplicationError) as info:
        await ActivityEnvironment().run(connector(sessions, endpoint, path).send_care, due())
    assert info.value.type == failure
    assert info.value.non_retryable is not retryable


async def test_a_webhook_off_the_allow_list_is_refused(
    sessions: async_sessionmaker[AsyncSession], endpoint: Endpoint
) -> None:
    with pytest.raises(ValueError, match="care_webhook_url"):
        Settings(care_webhook_url="http://crm.example.com/care", http_allowed_hosts=[])
    activities = connector(sessions, endpoint, "/inbox/x")
    # Redirected off the allow-list at send time: refused, and final.
    activities._settings = activities._settings.model_copy(
        update={"care_webhook_url": endpoint.url("/redirect?to=http://elsewhere.example/")}
    )
    with pytest.raises(ApplicationError) as info:
        await ActivityEnvironment().run(activities.send_care, due())
    assert info.value.type == REFUSED


async def test_the_worker_retries_a_webhook_answering_5xx(tmp_path: Path) -> None:
    async with care_stack(tmp_path, fail_first=2) as stack:
        key = await close_ticket(stack, "C-STD")
        [result] = await cared(stack, key)
        assert result.outcomes == {"survey": "sent", "coupon": "sent"}
        # Two 503s, then accepted: the survey took three posts, the coupon one.
        assert stack.webhook.hits[f"/inbox/{stack.inbox}"] == 4
        assert [p["action"] for p in stack.webhook.received[stack.inbox]] == ["survey", "coupon"]


@pytest.mark.parametrize(
    ("change", "pointers"),
    [
        ({"care": {"strategy": "nowhere"}}, ["/care/strategy"]),
        ({"care": {"strategy": "after-repair", "version": 9}}, ["/care/version"]),
        (
            {
                "care": {"strategy": "nowhere"},
                "intake_form": {"type": "object", "properties": {"title": {"type": "string"}}},
            },
            ["/care", "/care/strategy"],
        ),
    ],
)
async def test_a_definition_opting_into_care_is_checked_at_publish(
    tmp_path: Path, change: dict[str, object], pointers: list[str]
) -> None:
    async with migrated_sessions(sqlite_url(tmp_path)) as made:
        async with made() as session, session.begin():
            await publish_strategy(session=session, document=STRATEGY, published_by="owner")
            pinned = await check_definition(session=session, document=DEFINITION)
            assert pinned.care is not None
            assert pinned.care.version == 1
            assert pinned.care.snapshot is not None
            assert pinned.care.snapshot.key == "after-repair"
            with pytest.raises(Rejected) as info:
                await check_definition(session=session, document={**DEFINITION, **change})
        assert [p.pointer for p in info.value.problems] == pointers
