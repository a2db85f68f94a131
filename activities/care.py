"""The care workflow's activities: the customer at close, each step's record, the connector.

The connector posts a due action to the configured webhook through `http.request`'s own code,
so the outbound rules are the same (the allow-list on the URL, on every redirect and on every
resolved address). A message is sent only with consent to `care_messages` in force at that
moment, read from the ledger here, whatever the workflow was told before.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from activities.actions.errors import failed
from activities.actions.http import HttpRequestAction
from domain.actions import HTTP_REQUEST, ActionInput
from domain.care_flow import (
    CARE_PREPARE_ACTIVITY,
    CARE_PURPOSE,
    CARE_RECORD_ACTIVITY,
    CARE_SEND_ACTIVITY,
    CarePrepared,
    CarePrepareInput,
    CareRecord,
    CareRecordResult,
    CareSendInput,
    CareSendResult,
    care_message_id,
    without_contact,
)
from domain.customers import Customer, consents
from policies.access import AccessControl
from policies.customers import customer_domain, customer_view, redact_customer
from policies.roles import SYSTEM
from store import care as care_store
from store import customers as customers_store
from store.models import CustomerRow
from ticketflow.settings import Settings

WEBHOOK_CHANNEL = "webhook"
NO_CHANNEL = "none"
# The survey asks for feedback: its payload carries the ticket's feedback link.
SURVEY = "survey"


FeedbackLink = Callable[[str], str]


def care_payload(
    *, call: CareSendInput, customer: dict[str, Any], feedback_link: FeedbackLink
) -> dict[str, Any]:
    """What the channel receives for one action; `customer` is already redacted for it."""
    payload: dict[str, Any] = {
        # A send retried after the channel took it (the worker died before recording it)
        # carries the same id, so the channel can drop the second.
        "id": care_message_id(call),
        "action": call.action,
        "rule": call.rule,
        "ticket_key": call.ticket_key,
        "due_at": call.due_at.isoformat(),
        "params": call.params,
        "customer": customer,
    }
    if call.action == SURVEY:
        payload["feedback_url"] = feedback_link(call.ticket_key)
    return payload


class CareActivities:
    """Holds the session factory, the settings, the outbound HTTP code and the policy."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        write_turn: AbstractAsyncContextManager[object],
        settings: Settings,
        feedback_link: FeedbackLink,
    ) -> None:
        """`feedback_link` gives a ticket's feedback URL (services.feedback_tokens, wired in by
        the worker: activities sit below services)."""
        self._sessions = sessions
        self._feedback_link = feedback_link
        # The projection's queue: on SQLite every writer of this process waits in it.
        self._write_turn = write_turn
        self._settings = settings
        self._http = HttpRequestAction(settings.http_allowed_hosts)
        self._access = AccessControl()

    @activity.defn(name=CARE_PREPARE_ACTIVITY)
    async def prepare_care(self, call: CarePrepareInput) -> CarePrepared:
        """The closing ticket's customer, without contact fields, and the care settings."""
        async with self._sessions() as session:
            row = await customers_store.get_customer(session=session, customer_id=call.customer_id)
        if row is None:
            return CarePrepared()
        return CarePrepared(
            customer=without_contact(Customer.model_validate(row.document)),
            department=self._settings.care_department,
            confirm_within=timedelta(hours=self._settings.care_confirm_hours),
        )

    @activity.defn(name=CARE_RECORD_ACTIVITY)
    async def record_care(self, record: CareRecord) -> CareRecordResult:
        """Keep one care step on the ticket's timeline and in the customer's history, once."""
        async with self._write_turn, self._sessions() as session, session.begin():
            new = await care_store.record_care(session=session, record=record)
        return CareRecordResult(new=new)

    @activity.defn(name=CARE_SEND_ACTIVITY)
    async def send_care(self, call: CareSendInput) -> CareSendResult:
        """Send one due action to the channel; a message only with consent in force now."""
        async with self._sessions() as session:
            row = await customers_store.get_customer(session=session, customer_id=call.customer_id)
            if row is None:
                raise failed(f"no customer {call.customer_id}")
            if call.message:
                entries = await customers_store.consents_of(session=session, customer_id=row.id)
                if not consents(customers_store.ledger(entries), CARE_PURPOSE, datetime.now(UTC)):
                    return CareSendResult(outcome="no_consent")
            url = self._settings.care_webhook_url
            if url is None:
                return CareSendResult(outcome="recorded", channel=NO_CHANNEL)
            await self._access.refresh(session)
        body = care_payload(call=call, customer=self._shown(row), feedback_link=self._feedback_link)
        answer = await self._http.request(
            ActionInput(
                ticket_key=call.ticket_key,
                stage=f"care:{call.action}",
                action=HTTP_REQUEST.name,
                params={
                    "method": "POST",
                    "url": url,
                    "body": body,
                    "headers": {"Idempotency-Key": body["id"]},
                },
            )
        )
        return CareSendResult(
            outcome="sent", channel=WEBHOOK_CHANNEL, status=answer.output.get("status")
        )

    def _shown(self, row: CustomerRow) -> dict[str, Any]:
        """The customer as the channel's account may read it (deny by default)."""
        settings = self._settings
        view = customer_view(
            self._access,
            user=settings.care_channel_user,
            role=SYSTEM,
            home=settings.care_department,
            domain=customer_domain(settings.care_department, row.region),
        )
        return redact_customer(row.document, view)
