"""CareWorkflow on the time-skipping server over 30+ days, each scenario on its own clock.

Send times are read from the care steps the workflow recorded (workflow time) and held to the
due times the strategy gives: an action sent by its timer lands seconds after it is due, one
sent by anything else (the end of the workflow, another action's timer) hours or days off.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from domain.care_flow import CareDecisionInput
from domain.ticket import Actor
from services.customers import revoke_consent, tell_care_of_revocation
from store.models import CareTaskRow, TicketEventRow
from tests.workflows.care_stack import (
    CARE_AGENT,
    care_of,
    care_stack,
    cared,
    close_ticket,
    closed_at,
    ended,
    open_task,
    records,
)
from ticketflow.settings import Settings
from workflows.care import CareWorkflow

# Timers fire when due; this bounds the slack of one workflow task after it, not a speed.
SLACK = timedelta(minutes=1)


def on_time(at: datetime, due: datetime) -> bool:
    """Sent by its own timer: not before it was due, and within a workflow task after."""
    return due <= at < due + SLACK


async def test_a_vip_and_a_standard_customer_get_their_actions_on_time(tmp_path: Path) -> None:
    async with care_stack(tmp_path) as stack:
        vip = await close_ticket(stack, "C-VIP")
        standard = await close_ticket(stack, "C-STD")
        vip_result, standard_result = await cared(stack, vip, standard)
        assert vip_result.outcomes == {
            "supervisor_call": "lapsed",  # nobody confirmed it within 48 h
            "survey": "sent",
            "warranty_offer": "sent",
            "coupon": "sent",
        }
        assert standard_result.outcomes == {"survey": "sent", "coupon": "sent"}
        delays = {
            vip: {"survey": timedelta(hours=4), "warranty_offer": timedelta(days=7)},
            standard: {"survey": timedelta(days=1)},
        }
        for key, expected in delays.items():
            closed = await closed_at(stack, key)
            final = ended(await records(stack, key))
            for action, delay in {**expected, "coupon": timedelta(days=30)}.items():
                outcome, at, data = final[action]
                assert outcome == "sent"
                assert datetime.fromisoformat(data["due_at"]) == closed + delay
                assert on_time(at, closed + delay), (key, action, at, closed + delay)
        posted = stack.webhook.received[stack.inbox]
        assert sorted((p["ticket_key"], p["action"]) for p in posted) == sorted(
            [
                (vip, "survey"),
                (vip, "warranty_offer"),
                (vip, "coupon"),
                (standard, "survey"),
                (standard, "coupon"),
            ]
        )
        surveys = [p for p in posted if p["action"] == "survey"]
        assert all(p["feedback_url"].split("/feedback/")[1] for p in surveys)
        assert next(p for p in posted if p["action"] == "warranty_offer")["params"] == {"years": 2}
        # The channel's account is granted nothing: no contact field leaves with the message.
        assert all("email" not in p["customer"] and "name" not in p["customer"] for p in posted)


async def test_a_confirmation_nobody_decides_lapses_at_its_deadline(tmp_path: Path) -> None:
    async with care_stack(tmp_path) as stack:
        key = await close_ticket(stack, "C-VIP")
        await cared(stack, key)
        found = await records(stack, key)
        opened = next(r for r in found if r.data.get("outcome") == "awaiting_confirmation")
        deadline = datetime.fromisoformat(opened.data["deadline"])
        assert deadline == opened.at + timedelta(hours=48)
        outcome, at, data = ended(found)["supervisor_call"]
        assert (outcome, data["task"]) == ("lapsed", opened.data["task"])
        assert on_time(at, deadline)
        async with stack.sessions() as session:
            task = await session.scalar(select(CareTaskRow).where(CareTaskRow.ticket_key == key))
        assert task is not None
        assert (task.status, task.decided_by) == ("lapsed", None)
        assert not [
            p for p in stack.webhook.received[stack.inbox] if p["action"] == "supervisor_call"
        ]


async def test_an_approved_confirmation_is_sent_at_once(tmp_path: Path) -> None:
    async with care_stack(tmp_path) as stack:
        key = await close_ticket(stack, "C-VIP")
        task = await open_task(stack, key)
        handle = care_of(stack, key)
        outsider = Actor(user="finn", department="field", role="agent")
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await handle.execute_update(
                CareWorkflow.decide,
                CareDecisionInput(task_id=task.id, approve=True, actor=outsider),
            )
        assert isinstance(refused.value.cause, ApplicationError)
        assert refused.value.cause.type == "TicketForbidden"
        decided = await handle.execute_update(
            CareWorkflow.decide,
            CareDecisionInput(task_id=task.id, approve=True, reason="VIP", actor=CARE_AGENT),
        )
        assert (decided.task.status, decided.task.decided_by) == ("approved", "carla")
        [result] = await cared(stack, key)
        assert result.outcomes["supervisor_call"] == "sent"
        found = await records(stack, key)
        approved = [r for r in found if r.data.get("outcome") == "approved"]
        assert [(r.actor, r.data["by"], r.data["reason"]) for r in approved] == [
            ("carla", "carla", "VIP")
        ]
        sent = ended(found)["supervisor_call"]
        assert sent[1] < task.deadline  # sent on approval, long before the deadline
        calls = [p for p in stack.webhook.received[stack.inbox] if p["action"] == "supervisor_call"]
        assert len(calls) == 1
        async with stack.sessions() as session:
            row = await session.get(CareTaskRow, task.id)
        assert row is not None
        assert row.status == "approved"


async def test_revoking_consent_midway_stops_the_remaining_messages(tmp_path: Path) -> None:
    async with care_stack(tmp_path) as stack:
        key = await close_ticket(stack, "C-STD")
        closed = await closed_at(stack, key)
        await stack.env.sleep(timedelta(days=2))  # the survey (P1D) is sent, the coupon waits
        assert [p["action"] for p in stack.webhook.received[stack.inbox]] == ["survey"]
        async with stack.sessions() as session:
            revoked = await revoke_consent(
                session=session,
                customer_id="C-STD",
                purpose="care_messages",
                actor=CARE_AGENT,
                now=datetime.now(UTC),
                client=stack.client,
                settings=Settings(),
            )
            assert revoked is not None
            await session.commit()
            told = await tell_care_of_revocation(
                session=session, temporal=stack.client, revoked=revoked
            )
        assert told == [key]
        # Nothing is left to wait for: the signal ends the care without moving the clock.
        result = await care_of(stack, key).result()
        assert result.outcomes == {"survey": "sent", "coupon": "stopped"}
        outcome, at, data = ended(await records(stack, key))["coupon"]
        assert outcome == "stopped"
        assert data["revoked_at"]
        assert at < closed + timedelta(days=30)  # stopped on the signal, not at its due time
        assert [p["action"] for p in stack.webhook.received[stack.inbox]] == ["survey"]


async def test_each_care_step_is_on_the_ticket_timeline_after_its_close(tmp_path: Path) -> None:
    async with care_stack(tmp_path) as stack:
        key = await close_ticket(stack, "C-STD")
        await cared(stack, key)
        async with stack.sessions() as session:
            events = list(
                (
                    await session.scalars(
                        select(TicketEventRow)
                        .where(TicketEventRow.ticket_key == key)
                        .order_by(TicketEventRow.seq)
                    )
                ).all()
            )
        types = [e.type for e in events]
        close = types.index("closed")
        assert types[close + 1 :] == ["care_started", "care_action", "care_action", "care_ended"]
        assert [e.seq for e in events] == list(range(1, len(events) + 1))
        found = await records(stack, key)
        assert [r.ticket_seq for r in found] == [e.seq for e in events[close + 1 :]]
