"""The child-ticket activity: one key per stage round, whatever the retries; refusals for good."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import nullcontext
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.child_tickets import (
    DEFINITION_NOT_FOUND,
    INTAKE_INVALID,
    ChildTicketActivities,
)
from domain.messages import ChildTicketInput
from store.definitions import insert_definition
from tests.dbutil import migrated_sessions, sqlite_url
from tests.domain.processes import process, stage

CARE = process(
    stage("call"),
    key="care",
    key_prefix="CARE",
    intake_form={"type": "object", "properties": {"order": {"type": "string"}}},
)


@pytest.fixture
async def activities(tmp_path: Path) -> AsyncIterator[ChildTicketActivities]:
    """The activities over a fresh database holding `care@1`."""
    sessions: async_sessionmaker[AsyncSession]
    async with migrated_sessions(sqlite_url(tmp_path)) as sessions:
        async with sessions() as session:
            await insert_definition(
                session=session, definition=CARE, published_by="root", now=datetime.now(UTC)
            )
            await session.commit()
        yield ChildTicketActivities(sessions, nullcontext())


def request(round_: int = 1, definition: str = "care@1", **intake: object) -> ChildTicketInput:
    """A subprocess stage of FLOW-1 asking for its child."""
    return ChildTicketInput(
        parent_key="FLOW-1", stage="handover", round=round_, definition=definition, intake=intake
    )


async def test_a_retried_reservation_gets_the_same_key_and_a_new_round_the_next(
    activities: ChildTicketActivities,
) -> None:
    env = ActivityEnvironment()
    first = await env.run(activities.reserve_child_ticket, request(order="PO-7"))
    again = await env.run(activities.reserve_child_ticket, request(order="PO-7"))
    later = await env.run(activities.reserve_child_ticket, request(2))
    latest = await env.run(activities.reserve_child_ticket, request(3, "care"))
    assert (first.key, again.key, later.key, latest.key) == (
        "CARE-000001",
        "CARE-000001",
        "CARE-000002",
        "CARE-000003",
    )
    assert first.definition == CARE


@pytest.mark.parametrize(
    ("call", "error_type"),
    [
        (request(definition="care@2"), DEFINITION_NOT_FOUND),
        (request(definition="billing"), DEFINITION_NOT_FOUND),
        (request(order=7), INTAKE_INVALID),
    ],
)
async def test_what_no_retry_changes_is_refused_for_good(
    activities: ChildTicketActivities, call: ChildTicketInput, error_type: str
) -> None:
    with pytest.raises(ApplicationError) as info:
        await ActivityEnvironment().run(activities.reserve_child_ticket, call)
    assert (info.value.type, info.value.non_retryable) == (error_type, True)
