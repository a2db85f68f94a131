"""`ticket.set_fields`: values the workflow evaluated, checked and given back as ticket fields."""

from __future__ import annotations

from temporalio import activity

from activities.actions.errors import rejected
from domain.action_values import checked_fields
from domain.actions import SET_FIELDS, ActionInput, ActionOutput, action_activity
from domain.problems import Rejected


@activity.defn(name=action_activity(SET_FIELDS.name))
async def set_fields(call: ActionInput) -> ActionOutput:
    """The stage's evaluated fields as its output, if their names and values are fit to store."""
    try:
        return ActionOutput(output=checked_fields(call.params))
    except Rejected as exc:
        raise rejected(SET_FIELDS.name, exc) from None
