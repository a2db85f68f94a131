"""Triage transitions on a ticket: apply the model's answer, a dispatcher's decision, a repeat."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from domain.sla import DEFAULT_PRIORITY, PRIORITIES
from domain.sla_clocks import check_set_priority, set_priority
from domain.ticket import (
    ACTIVE_TASK,
    ADMIN_ROLE,
    Actor,
    TaskStatus,
    TicketEvent,
    TicketRuleError,
    TicketState,
    TicketStatus,
)
from domain.triage import (
    CATEGORICAL_FIELDS,
    MAX_TEXT_CHARS,
    DispatchInput,
    DuplicateReportInput,
    TriageResult,
    TriageTicket,
)
from domain.triage_settings import TriageSettings

TEXT_FIELDS = ("description", "details", "body")
TRIAGE_ACTOR = Actor(user="triage", role="system")
NUMBER_SOURCES = ("device_snapshot", "device")
# The readings of the device read at creation (TicketState.intake_snapshot) are numbers too,
# named apart from the intake's: what the device said, not what the requester typed.
LIVE_PREFIX = "live."


def live_numbers(summary: Mapping[str, Any] | None) -> dict[str, float]:
    """A creation snapshot's good readings as numbers (booleans as 0 or 1); bad ones are absent."""
    points = summary.get("points") if isinstance(summary, Mapping) else None
    numbers: dict[str, float] = {}
    for name, reading in (points or {}).items():
        if not isinstance(reading, Mapping) or reading.get("quality") != "good":
            continue  # the model's missing flag says the device could not tell
        value = reading.get("value")
        if isinstance(value, int | float) and math.isfinite(value):
            numbers[LIVE_PREFIX + str(name)] = float(value)
    return numbers


def _settings(state: TicketState) -> TriageSettings:
    settings = state.definition.triage
    if settings is None:
        raise TicketRuleError("conflict", f"ticket {state.key}'s process has no triage")
    return settings


def description_field(intake: Mapping[str, Any]) -> str | None:
    """The intake field the model reads as the description: the first non-empty text field.

    Only text counts: an object's nested fields have sensitivities of their own.
    """
    return next((f for f in TEXT_FIELDS if isinstance(intake.get(f), str) and intake[f]), None)


def categorical_in_intake(intake: Mapping[str, Any], name: str) -> bool:
    """Whether the model takes this categorical from the intake (else from the requester)."""
    value = intake.get(name)
    return isinstance(value, str | int) and not isinstance(value, bool)


def number_source(intake: Mapping[str, Any], name: str) -> str | None:
    """The intake field a device number comes from (a later source overrides an earlier one)."""
    found = None
    for source in NUMBER_SOURCES:
        snapshot = intake.get(source)
        if isinstance(snapshot, dict):
            value = snapshot.get(name)
            if isinstance(value, int | float) and not isinstance(value, bool):
                found = source
    return found


def triage_input(state: TicketState) -> TriageTicket:
    """What the model reads: title, description, categoricals, device numbers and live readings."""
    intake = state.intake
    source = description_field(intake)
    description = str(intake[source]) if source else ""
    fields = {k: str(intake[k]) for k in CATEGORICAL_FIELDS if categorical_in_intake(intake, k)}
    fields.setdefault("reporter_role", state.requester.role)
    fields.setdefault("department", state.requester.department)
    numbers: dict[str, float] = {}
    for source in NUMBER_SOURCES:
        snapshot = intake.get(source)
        if isinstance(snapshot, dict):
            numbers.update(
                {
                    str(k): float(v)
                    for k, v in snapshot.items()
                    if isinstance(v, int | float) and not isinstance(v, bool)
                }
            )
    numbers.update(live_numbers(state.intake_snapshot))
    return TriageTicket(
        key=state.key,
        title=state.title,
        description=description[:MAX_TEXT_CHARS],
        fields={k: v[:200] for k, v in fields.items()},
        numbers=numbers,
    )


def enough_evidence(result: TriageResult, settings: TriageSettings) -> bool:
    """Whether the ticket's text says enough for the model's answer to stand on its own.

    A model that did not measure evidence (saved before it could) is taken at its confidence.
    """
    return result.evidence is None or result.evidence >= settings.min_evidence


def apply_triage(
    state: TicketState, ticket: TriageTicket, result: TriageResult, now: datetime
) -> list[TicketEvent]:
    """Route at once when the model is sure enough of a ticket that says enough; otherwise
    leave it to the dispatcher.

    The `triaged` event comes first, then a `task_routed` event for each task it moved.
    """
    settings = _settings(state)
    # A dispatcher may have decided while the model was still thinking: theirs stands.
    waiting = any(
        state.tasks[k].group == settings.dispatcher_group
        and state.tasks[k].status in (TaskStatus.PENDING, *ACTIVE_TASK)
        for k in settings.routed_stages
    )
    routed = (
        waiting
        and result.model_version is not None
        and result.team is not None
        and result.confidence >= settings.threshold
        and enough_evidence(result, settings)
        and (not settings.teams or result.team in settings.teams)
        and state.status == TicketStatus.OPEN
    )
    team = result.team if routed else None
    if routed and result.category and state.category is None:
        state.category = result.category  # a dispatcher who decided first named theirs
    triaged = state.record_event(
        "triaged",
        "triage",
        now,
        {
            "ticket": ticket.model_dump(),
            "result": result.model_dump(),
            "threshold": settings.threshold,
            "min_evidence": settings.min_evidence,
            "routed": routed,
            "team": team,
        },
    )
    if team is None:
        return [triaged]
    moved = state.route(
        settings.routed_stages, team, (settings.dispatcher_group,), TRIAGE_ACTOR.user, now
    )
    return [triaged, *moved]


def check_dispatch(state: TicketState, cmd: DispatchInput) -> None:
    """Only the dispatcher group (or an admin) decides, on an open ticket, to a listed team."""
    settings = _settings(state)
    if state.status != TicketStatus.OPEN:
        raise TicketRuleError("conflict", f"ticket {state.key} is {state.status.value}")
    if cmd.actor.role != ADMIN_ROLE and cmd.actor.department != settings.dispatcher_group:
        raise TicketRuleError(
            "forbidden", f"dispatching belongs to group {settings.dispatcher_group!r}"
        )
    if settings.teams and cmd.team not in settings.teams:
        raise TicketRuleError("invalid", f"{cmd.team!r} is not one of {settings.teams}")
    if not any(
        state.tasks[k].status in (TaskStatus.PENDING, *ACTIVE_TASK) for k in settings.routed_stages
    ):
        raise TicketRuleError("conflict", "the routed stages are already done")


def dispatch(state: TicketState, cmd: DispatchInput, now: datetime) -> list[TicketEvent]:
    """Send the routed stages to the chosen team; the decision becomes a training label.

    The `triage_dispatched` event comes first, then a `task_routed` event per task moved.
    """
    check_dispatch(state, cmd)
    settings = _settings(state)
    holders = tuple(
        {state.tasks[k].group for k in settings.routed_stages} | {settings.dispatcher_group}
    )
    if cmd.category:
        state.category = cmd.category
    decided = state.record_event(
        "triage_dispatched",
        cmd.actor.user,
        now,
        {
            "team": cmd.team,
            "category": cmd.category,
            "priority": cmd.priority,
            "reason": cmd.reason,
        },
    )
    return [decided, *state.route(settings.routed_stages, cmd.team, holders, cmd.actor.user, now)]


def record_duplicate(
    state: TicketState, report: DuplicateReportInput, now: datetime
) -> TicketEvent | None:
    """A repeat of this ticket's problem, kept as one more event; None if already reported.

    A merged report is `duplicate_reported` with the reporter and their text by source field
    (`intake`); a link to a ticket filed separately is `possible_duplicate` (`related`).
    """
    kept = {"report_id": report.report_id} if report.report_id else {}
    if report.related_key:
        related = {
            "ticket": report.related_key,
            "relation": report.relation,
            "similarity": report.similarity,
        }
        return state.record_report(
            "possible_duplicate",
            TRIAGE_ACTOR.user,
            now,
            {"related": related, **kept},
            report.report_id,
        )
    if report.excerpt or not (report.title or report.description):
        merged = {
            "requester": report.requester,
            "intake": dict(report.excerpt),
            "similarity": report.similarity,
        }
        return state.record_report(
            "duplicate_reported", TRIAGE_ACTOR.user, now, {**merged, **kept}, report.report_id
        )
    # A report from before excerpts, recorded as it always was.
    legacy = {
        "requester": report.requester,
        "title": report.title,
        "description": report.description,
        "similarity": report.similarity,
    }
    return state.record_report(
        "duplicate_reported", report.requester, now, {**legacy, **kept}, report.report_id
    )


def model_priority(state: TicketState, triaged: TicketEvent, now: datetime) -> list[TicketEvent]:
    """The model's priority, when it routed the ticket itself and nobody has chosen one.

    A priority given at intake or set by a person always stands over the model's.
    """
    result = TriageResult.model_validate(triaged.data["result"])
    if not triaged.data["routed"] or result.priority not in PRIORITIES:
        return []
    if state.priority != DEFAULT_PRIORITY or any(
        e.type == "priority_changed" for e in state.events
    ):
        return []
    return set_priority(state, TRIAGE_ACTOR, result.priority, "triage model", now)


def check_dispatch_priority(state: TicketState, cmd: DispatchInput) -> None:
    """A dispatcher's priority must be one the ticket can take, from a role that may set it."""
    if cmd.priority is not None:
        check_set_priority(state, cmd.actor, cmd.priority)


def dispatch_priority(state: TicketState, cmd: DispatchInput, now: datetime) -> list[TicketEvent]:
    """Apply the priority a dispatcher chose along with the team."""
    if cmd.priority is None:
        return []
    return set_priority(state, cmd.actor, cmd.priority, cmd.reason or "dispatch", now)
