"""`ticket.set_fields` run directly in an ActivityEnvironment."""

from __future__ import annotations

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.actions.fields import set_fields
from domain.action_failures import REFUSED
from domain.actions import ActionInput


def call(params: dict[str, object]) -> ActionInput:
    """A set_fields call from stage `compute` of T-1."""
    return ActionInput(ticket_key="T-1", stage="compute", action="ticket.set_fields", params=params)


async def test_the_fields_are_the_output() -> None:
    output = await ActivityEnvironment().run(set_fields, call({"fields": {"risk": "high", "n": 2}}))
    assert output.output == {"risk": "high", "n": 2}


async def test_bad_fields_are_refused_for_good_with_their_pointers() -> None:
    with pytest.raises(ApplicationError) as raised:
        await ActivityEnvironment().run(set_fields, call({"fields": {"Risk": 1, "ok": "\x00"}}))
    error = raised.value
    assert (error.type, error.non_retryable) == (REFUSED, True)
    assert error.message.startswith("ticket.set_fields: ")
    assert [p["pointer"] for p in error.details[0]] == ["/fields/Risk", "/fields/ok"]
