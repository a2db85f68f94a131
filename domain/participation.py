"""Who took part in a ticket, read from its events: groups that held a task, people who worked it.

A task says where it is now; one reassigned (by an agent or the SLA) to another group no
longer names the group or the person that had it, while its events do. The reading rule built
on these facts is policies.authorization (handler_departments, reads_as_participant).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

GROUP, PERSON = "group", "user"
# Events of a task that had opened: the group and the assignee named (before and after) held it.
TASK_EVENTS = ("task_opened", "task_claimed", "task_unclaimed", "task_completed", "task_reassigned")
# The actor of these held the task themselves.
WORKED_BY_ACTOR = ("task_claimed", "task_completed")
PAUSE_STARTED = "waiting_started"
# A proposal addressed to a group: it takes part from then on, since it must see the ticket to
# decide (an expedite the customer's sentiment proposed goes to its supervisor group).
ADDRESSED = ("expedite_proposed",)


class Participant(NamedTuple):
    """A group (GROUP) or a person (PERSON) who took part in a ticket."""

    kind: str
    name: str


def participants_of(type_: str, actor: str, data: Mapping[str, Any]) -> set[Participant]:
    """The participants one event shows: task holders before and after it, whoever paused."""
    found: set[Participant] = set()
    if type_ == PAUSE_STARTED:
        found.add(Participant(PERSON, actor))
    if type_ in ADDRESSED and isinstance(data.get("group"), str) and data["group"]:
        found.add(Participant(GROUP, data["group"]))
    if type_ not in TASK_EVENTS:
        return found
    before = data.get("before")
    for holder in (data, before if isinstance(before, Mapping) else {}):
        group, assignee = holder.get("group"), holder.get("assignee")
        if isinstance(group, str) and group:
            found.add(Participant(GROUP, group))
        if isinstance(assignee, str) and assignee:
            found.add(Participant(PERSON, assignee))
    if type_ in WORKED_BY_ACTOR:
        found.add(Participant(PERSON, actor))
    return found


def participants_in(events: Iterable[tuple[str, str, Mapping[str, Any]]]) -> set[Participant]:
    """The participants a run of (type, actor, data) events shows."""
    found: set[Participant] = set()
    for type_, actor, data in events:
        found |= participants_of(type_, actor, data)
    return found
