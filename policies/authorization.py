"""Who may call what, which fields each change writes, and which departments handle a ticket.

The one module of role rules beside the Casbin policy: the API's endpoint gates, the views'
change checks, the notifications and the sandbox ask here; the Casbin policy then decides
field by field. Pure: no web framework, no database.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from domain.participation import GROUP, PERSON, Participant
from domain.sla_clocks import CHANGE_PRIORITY_ROLES, PAUSE_ROLES
from policies.redaction import FieldView, denied_writes, written_fields
from policies.roles import ADMIN, AGENT, AUDITOR, PROCESS_OWNER, REQUESTER, SYSTEM

# Endpoint gates: the roles admitted besides admins, who pass every gate.
CREATE_TICKETS = (REQUESTER, AGENT, PROCESS_OWNER, SYSTEM)
PUBLISH = (PROCESS_OWNER,)
WORK_TASKS = (AGENT,)
SIGNAL = (SYSTEM,)
# Aggregate KPIs (counts and durations, no ticket's fields): everyone but requesters.
READ_KPIS = (AGENT, PROCESS_OWNER, AUDITOR, SYSTEM)
READ_PERMISSION_AUDIT = (AUDITOR,)
# The raw Temporal history of a ticket (every payload as recorded): auditors (and admins).
READ_RAW_HISTORY = (AUDITOR,)
# The codec endpoints decrypt raw Temporal payloads, whole and unredacted: auditors only.
CODEC = (AUDITOR,)
MANAGE_POLICIES: tuple[str, ...] = ()
# Notifications addressed to anyone, not only to the caller, their group or their role.
READ_ALL_NOTIFICATIONS = (AUDITOR,)
# The device registry: process owners describe devices, the people who work and audit tickets
# read them; the files a device's OPC UA security names are the admins' alone.
REGISTER_DEVICES = (PROCESS_OWNER,)
READ_DEVICES = (AGENT, AUDITOR)
SEE_DEVICE_FILES: tuple[str, ...] = ()
# Taking a snapshot reaches into the plant: the people who work tickets do, auditors only read
# the snapshots taken.
TAKE_SNAPSHOTS = (AGENT,)
# Problem records (co-occurring symptoms): agents and process owners decide them, auditors read.
READ_PROBLEMS = (AGENT, PROCESS_OWNER, AUDITOR)
DECIDE_PROBLEMS = (AGENT, PROCESS_OWNER)
# Customers: agents record them and their consent (the policy decides field by field, so only
# the care department's agents write them by default); agents and auditors read them.
WRITE_CUSTOMERS = (AGENT,)
READ_CUSTOMERS = (AGENT, AUDITOR)
# Care strategies: process owners publish them; the people who work and audit tickets read them.
READ_CARE_STRATEGIES = (AGENT, PROCESS_OWNER, AUDITOR, SYSTEM)
# Subscriptions to ticket events: outside systems (each reads events as its account reads).
SUBSCRIBE = (SYSTEM,)
# Playbooks: the owning department's agents promote their own fixes (they know whether a fix
# is worth repeating); whoever works, designs or audits tickets reads them, each playbook's
# content as far as they may read the deliverable it came from.
PROMOTE_PLAYBOOKS = (AGENT,)
READ_PLAYBOOKS = (AGENT, PROCESS_OWNER, AUDITOR)
# Usage metering, the basis of billing: admins read everyone's, a system only its own.
READ_USAGE = (SYSTEM,)


def may_promote(role: str, department: str, owner: str) -> bool:
    """Whether a caller promotes a fix of a ticket the department `owner` owns."""
    return role == ADMIN or (role == AGENT and department == owner)


def may_call(role: str, gate: Iterable[str]) -> bool:
    """Whether a caller with this role passes an endpoint gate (admins always do)."""
    return role == ADMIN or role in gate


def usage_subject(role: str, user: str, asked: str | None) -> tuple[bool, str | None]:
    """Whether a caller reads the usage of `asked` (None: everyone's), and whose it gets:
    an admin's choice, a system's own and only its own."""
    if role == ADMIN:
        return True, asked
    return asked in (None, user), user


def is_exempt_from_sandbox(role: str) -> bool:
    """Admins publish anything directly and use any template, whatever the department."""
    return role == ADMIN


@dataclass(frozen=True)
class Write:
    """One field a request writes, and the pointer a refusal names.

    Form data is pointed at where it is in the body (`/data/<name>`), a system field by its
    name (`/priority`, `/assignee`).
    """

    field: str
    pointer: str


def _fields(*names: str) -> Callable[[Mapping[str, Any]], tuple[Write, ...]]:
    return lambda _payload: tuple(Write(name, f"/{name}") for name in names)


def form_writes(data: Mapping[str, Any], at: str = "/data") -> tuple[Write, ...]:
    """Every field of submitted form data (intake or stage completion), at every depth."""
    return tuple(Write(path, at + place) for path, place in written_fields(data).items())


def _complete(payload: Mapping[str, Any]) -> tuple[Write, ...]:
    return form_writes(payload.get("data") or {})


def _attach(payload: Mapping[str, Any]) -> tuple[Write, ...]:
    key = str(payload.get("deliverable", ""))
    return (Write(f"deliverables.{key}", f"/deliverables/{key}"),)


def _amend(payload: Mapping[str, Any]) -> tuple[Write, ...]:
    return (Write("deliverables", "/deliverables"),)


def _reassign(payload: Mapping[str, Any]) -> tuple[Write, ...]:
    moved = (Write("tasks", "/tasks"),) if payload.get("to_group") else ()
    return (Write("assignee", "/assignee"), *moved)


def _comment(payload: Mapping[str, Any]) -> tuple[Write, ...]:
    field = "internal_comments" if payload.get("internal") else "comments"
    return (Write(field, f"/{field}"),)


def _confirm(payload: Mapping[str, Any]) -> tuple[Write, ...]:
    said = (Write("comments", "/comments"),) if payload.get("comment") else ()
    return (Write("status", "/status"), *said)


def _dispatch(payload: Mapping[str, Any]) -> tuple[Write, ...]:
    priority = (Write("priority", "/priority"),) if payload.get("priority") is not None else ()
    return (Write("tasks", "/tasks"), Write("triage", "/triage"), *priority)


@dataclass(frozen=True)
class UpdateRule:
    """Who may send one Update (None: whoever may change the ticket) and what it writes."""

    writes: Callable[[Mapping[str, Any]], tuple[Write, ...]]
    roles: tuple[str, ...] | None = None


# Every Update the API sends, with the fields it writes: `change_ticket` refuses an Update
# missing here, so a new one cannot skip the write check.
UPDATES: dict[str, UpdateRule] = {
    "claim": UpdateRule(_fields("assignee"), WORK_TASKS),
    "unclaim": UpdateRule(_fields("assignee"), WORK_TASKS),
    "complete": UpdateRule(_complete, WORK_TASKS),
    "reassign": UpdateRule(_reassign, WORK_TASKS),
    # The stage's group attaches (the workflow checks the group); the owning department amends.
    "attach_deliverable": UpdateRule(_attach, WORK_TASKS),
    "amend_contract": UpdateRule(_amend, WORK_TASKS),
    "withdraw": UpdateRule(_fields("tasks"), WORK_TASKS),
    "comment": UpdateRule(_comment),
    "cancel": UpdateRule(_fields("status")),
    "reopen": UpdateRule(_fields("status", "tasks")),
    "confirm": UpdateRule(_confirm),
    # The workflow re-checks these roles in its validators (the domain's own constants).
    "set_priority": UpdateRule(_fields("priority"), CHANGE_PRIORITY_ROLES),
    "pause": UpdateRule(_fields("sla"), PAUSE_ROLES),
    # A requester ends a wait for the customer on their own ticket; the workflow checks that.
    "resume": UpdateRule(_fields("sla")),
    # Dispatchers are agents of the definition's dispatcher group (the workflow checks which).
    "dispatch": UpdateRule(_dispatch, WORK_TASKS),
    # The proposal's supervisor group decides (the workflow checks the group); confirming
    # raises the priority and opens the group's task.
    "decide_expedite": UpdateRule(_fields("sentiment", "priority", "tasks"), WORK_TASKS),
}


def may_update(role: str, update: str, *, own: bool) -> bool:
    """Whether this role may send this Update to a ticket it did (own) or did not request.

    Admins send any; auditors none; agents work every ticket the policy lets them see; other
    roles change only their own tickets. Unknown Updates are refused.
    """
    rule = UPDATES.get(update)
    if rule is None or role == AUDITOR:
        return False
    if role == ADMIN:
        return True
    if rule.roles is not None and role not in rule.roles:
        return False
    return role == AGENT or own


def update_writes(update: str, payload: Mapping[str, Any]) -> tuple[Write, ...]:
    """The fields an Update with this payload writes; KeyError for an undeclared Update."""
    return UPDATES[update].writes(payload)


def creation_writes(data: Mapping[str, Any], *, priority_given: bool) -> tuple[Write, ...]:
    """The fields filing a ticket writes: the intake's, and the priority when the caller sets it."""
    given = (Write("priority", "/priority"),) if priority_given else ()
    return (*form_writes(data), *given)


def refused_writes(view: FieldView, writes: Iterable[Write]) -> list[Write]:
    """The writes this view does not allow, one per field, sorted by field."""
    by_field: dict[str, Write] = {}
    for write in writes:
        by_field.setdefault(write.field, write)
    return [by_field[name] for name in denied_writes(view, by_field)]


# Who keeps reading a ticket once their part in it is over
# -------------------------------------------------------
# A department handles a ticket from the moment one of its tasks opens, and keeps handling it
# when that task is done, cancelled, or moved to another group (by an agent or the SLA): the
# ticket stays in its domain, read and written as the policy grants there. A task still pending
# (a future stage), or cancelled before it ever opened, gives its group nothing.
#
# A person who held one of its tasks or put it on hold keeps reading it even where their
# department's part gives them nothing (they moved departments, or reached it by a rule of
# their own): they read it as their department reads the tickets it handles, and write only
# what that gives them anyway, except ending the wait they started themselves.
#
# This is what service desks do with assignment history: the people and groups a ticket passed
# through answer questions about it later (the requester calls back, an escalation asks why,
# a reopen lands back on them), so losing sight of it the moment the SLA moves a task hides the
# work they did and strands the wait they were tending; being able to change it stays with
# whoever handles it.
HANDLING_STATUSES = ("open", "claimed", "done")


class TaskFacts(NamedTuple):
    """What the handler rule needs of one task: its group, status and whether it ever opened."""

    group: str
    status: str
    opened: bool


def handles(task: TaskFacts) -> bool:
    """Whether this task makes its group one of the ticket's handlers."""
    return task.status in HANDLING_STATUSES or (task.status == "cancelled" and task.opened)


def handler_departments(
    owner: str, tasks: Iterable[TaskFacts], participants: Iterable[Participant] = ()
) -> tuple[str, ...]:
    """The owning department first (always), then every department that held an opened task.

    `tasks` are where the tasks are now, `participants` who took part before (a group a task
    was moved away from is one).
    """
    held = {p.name for p in participants if p.kind == GROUP}
    others = sorted(({t.group for t in tasks if handles(t)} | held) - {owner})
    return (owner, *others)


def reads_as_participant(
    user: str, home: str, handlers: Iterable[str], participants: Iterable[Participant]
) -> bool:
    """Whether a person reads a ticket for having worked it, beyond their department's part."""
    return home not in set(handlers) and Participant(PERSON, user) in set(participants)


def may_end_own_wait(user: str, waiting_for: str | None, pauser: str | None) -> bool:
    """Whether this person started the wait the ticket is in (they may end it)."""
    return waiting_for is not None and pauser == user


def may_hold_task(role: str, department: str, group: str) -> bool:
    """Whether a user may be handed a task of this group: its members, and admins."""
    return role == ADMIN or department == group


def may_dispatch(role: str, department: str, dispatcher_group: str) -> bool:
    """Whether a caller decides a ticket's triage: its dispatcher group's members, and admins."""
    return role == ADMIN or department == dispatcher_group


def sees_stage_clocks(role: str) -> bool:
    """Whether the caller sees every stage's SLA clock (requesters: joint clock, milestones)."""
    return role != REQUESTER


def may_read_notifications_of(role: str, recipient: str, own: Iterable[str]) -> bool:
    """Callers read notifications addressed to themselves; auditors and admins anyone's."""
    return recipient in own or may_call(role, READ_ALL_NOTIFICATIONS)
