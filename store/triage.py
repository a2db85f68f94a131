"""Triage tables: the model registry, per-ticket outcomes, labels, duplicates and their KPIs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.ticket import TicketEvent, TicketSnapshot
from domain.triage import TriageTicket
from store.models import (
    DuplicateReportRow,
    TicketEventRow,
    TicketRow,
    TriageLabelRow,
    TriageModelRow,
    TriageOutcomeRow,
)

ACTIVE = "active"
RETIRED = "retired"
CANDIDATE = "candidate"
TRIAGE_EVENTS = frozenset(
    {"triaged", "triage_dispatched", "task_reassigned", "resolved", "duplicate_reported"}
)


# -- registry ------------------------------------------------------------------------------


async def next_model_version(*, session: AsyncSession) -> int:
    """The version number the next trained model gets."""
    last = await session.scalar(select(func.max(TriageModelRow.version)))
    return (last or 0) + 1


async def add_model(
    *,
    session: AsyncSession,
    version: int,
    path: str,
    sha256: str,
    training_size: int,
    metrics: dict[str, Any],
    features: dict[str, Any],
    now: datetime,
    note: str = "",
) -> TriageModelRow:
    """Register a trained model as a candidate (not live until promoted)."""
    row = TriageModelRow(
        version=version,
        created_at=now,
        status=CANDIDATE,
        path=path,
        sha256=sha256,
        training_size=training_size,
        metrics=metrics,
        features=features,
        note=note,
    )
    session.add(row)
    await session.flush()
    return row


async def get_active_model(*, session: AsyncSession) -> TriageModelRow | None:
    """The live model, if any."""
    return await session.scalar(select(TriageModelRow).where(TriageModelRow.status == ACTIVE))


async def list_models(*, session: AsyncSession) -> list[TriageModelRow]:
    """Every registered version, newest first."""
    rows = await session.scalars(select(TriageModelRow).order_by(TriageModelRow.version.desc()))
    return list(rows)


async def promote_model(*, session: AsyncSession, version: int) -> TriageModelRow:
    """Make `version` the live model; the previous live one is retired."""
    row = await session.get(TriageModelRow, version)
    if row is None:
        raise LookupError(f"no triage model version {version}")
    current = await get_active_model(session=session)
    if current is not None and current.version != version:
        current.status = RETIRED
    row.status = ACTIVE
    await session.flush()
    return row


async def rollback_model(*, session: AsyncSession, to_version: int | None = None) -> TriageModelRow:
    """Go back to `to_version`, or to the newest version older than the live one."""
    current = await get_active_model(session=session)
    if to_version is None:
        if current is None:
            raise LookupError("no live triage model to roll back from")
        to_version = await session.scalar(
            select(func.max(TriageModelRow.version)).where(
                TriageModelRow.version < current.version, TriageModelRow.status == RETIRED
            )
        )
        if to_version is None:
            raise LookupError(f"no earlier promoted version than v{current.version}")
    row = await promote_model(session=session, version=to_version)
    if current is not None and current.version != to_version:
        current.note = (current.note + f" rolled back to v{to_version}").strip()
    return row


# -- outcomes and labels, written by the projection in its transaction ---------------------


async def record_triage_events(
    *, session: AsyncSession, ticket: TicketSnapshot, events: list[TicketEvent]
) -> None:
    """Keep the triage outcome and labels in step with newly projected events."""
    for event in events:
        if event.type == "triaged":
            await _add_outcome(session, ticket, event)
        elif event.type == "triage_dispatched":
            await _dispatched(session, ticket, event)
        elif event.type == "task_reassigned":
            await _reassigned(session, ticket, event)
        elif event.type == "resolved":
            outcome = await session.get(TriageOutcomeRow, ticket.key)
            if outcome is not None:
                outcome.resolved_at = event.at
        elif event.type == "duplicate_reported":
            excerpt = event.data.get("intake") or {}
            title = event.data.get("title") or excerpt.get("title") or excerpt.get("summary")
            session.add(
                DuplicateReportRow(
                    ticket_key=ticket.key,
                    requester=str(event.data.get("requester", ""))[:100],
                    title=str(title or "")[:200],
                    similarity=float(event.data.get("similarity", 0.0)),
                    created_at=event.at,
                )
            )
    await session.flush()


async def _add_outcome(session: AsyncSession, ticket: TicketSnapshot, event: TicketEvent) -> None:
    result = event.data.get("result", {})
    # A dispatcher who decided before the model answered already labelled the ticket.
    earlier = await session.scalar(
        select(TriageLabelRow.team)
        .where(TriageLabelRow.ticket_key == ticket.key)
        .order_by(TriageLabelRow.seq.desc())
        .limit(1)
    )
    team = event.data.get("team") or earlier
    session.add(
        TriageOutcomeRow(
            ticket_key=ticket.key,
            definition_key=ticket.definition_key,
            created_at=event.at,
            ticket=event.data.get("ticket", {}),
            model_version=result.get("model_version"),
            predicted_team=result.get("team"),
            confidence=float(result.get("confidence", 0.0)),
            category=result.get("category"),
            priority=result.get("priority"),
            auto_routed=bool(event.data.get("routed")),
            first_team=team,
            final_team=team,
            reassignments=0,
        )
    )


async def _dispatched(session: AsyncSession, ticket: TicketSnapshot, event: TicketEvent) -> None:
    team = str(event.data["team"])
    session.add(
        TriageLabelRow(
            ticket_key=ticket.key,
            seq=event.seq,
            team=team,
            category=event.data.get("category"),
            priority=event.data.get("priority"),
            source="dispatcher",
            reason=str(event.data.get("reason", "")),
            actor=event.actor,
            at=event.at,
        )
    )
    outcome = await session.get(TriageOutcomeRow, ticket.key)
    if outcome is not None:
        if outcome.first_team is None:
            outcome.first_team = team
        elif outcome.final_team != team:
            outcome.reassignments += 1
        outcome.final_team = team


async def _reassigned(session: AsyncSession, ticket: TicketSnapshot, event: TicketEvent) -> None:
    """A task moved away from the team triage (or the dispatcher) chose: a correction."""
    outcome = await session.get(TriageOutcomeRow, ticket.key)
    before = event.data.get("before", {}).get("group")
    group = event.data.get("group")
    if outcome is None or outcome.final_team is None or before != outcome.final_team:
        return
    if group == before:
        return
    session.add(
        TriageLabelRow(
            ticket_key=ticket.key,
            seq=event.seq,
            team=str(group),
            category=None,
            priority=None,
            source="reassignment",
            reason=str(event.data.get("reason", "")),
            actor=event.actor,
            at=event.at,
        )
    )
    outcome.final_team = str(group)
    outcome.reassignments += 1


async def awaiting_dispatch(
    *, session: AsyncSession, limit: int = 100, offset: int = 0
) -> list[tuple[TicketRow, TriageOutcomeRow, dict[str, Any]]]:
    """Tickets in manual triage, oldest first, each with the model's answer from its event."""
    rows = await session.execute(
        select(TicketRow, TriageOutcomeRow, TicketEventRow.data)
        .join(TicketEventRow, TicketEventRow.ticket_key == TriageOutcomeRow.ticket_key)
        .join(TicketRow, TicketRow.key == TriageOutcomeRow.ticket_key)
        .where(
            TriageOutcomeRow.first_team.is_(None),
            TicketEventRow.type == "triaged",
            TicketRow.status == "open",
        )
        .order_by(TriageOutcomeRow.created_at, TriageOutcomeRow.ticket_key)
        .offset(offset)
        .limit(limit)
    )
    return [(ticket, outcome, data.get("result", {})) for ticket, outcome, data in rows]


# -- training data and KPIs ----------------------------------------------------------------


async def labelled_tickets(
    *, session: AsyncSession
) -> list[tuple[TriageTicket, str, str | None, str | None]]:
    """(ticket, team, category, priority) for every ticket a human labelled or that resolved.

    A resolved ticket's final team is a label too: the team that did the work is the right one.
    """
    # A resolved ticket's priority at the end (after any human correction) is a label too.
    outcomes = await session.execute(
        select(TriageOutcomeRow, TicketRow.priority)
        .outerjoin(TicketRow, TicketRow.key == TriageOutcomeRow.ticket_key)
        .where(TriageOutcomeRow.final_team.is_not(None))
    )
    labels: dict[str, TriageLabelRow] = {}
    for row in await session.scalars(select(TriageLabelRow).order_by(TriageLabelRow.seq)):
        labels[row.ticket_key] = row
    rows = []
    for outcome, final_priority in outcomes:
        label = labels.get(outcome.ticket_key)
        if label is None and outcome.resolved_at is None:
            continue
        assert outcome.final_team is not None
        priority = label.priority if label else None
        if priority is None and outcome.resolved_at is not None:
            priority = final_priority
        rows.append(
            (
                TriageTicket.model_validate(outcome.ticket),
                outcome.final_team,
                label.category if label else None,
                priority,
            )
        )
    return rows


async def triage_kpis(*, session: AsyncSession) -> dict[str, Any]:
    """First-dispatch accuracy, per-team precision/recall/coverage, repeat-submission rate.

    First-dispatch accuracy: of the resolved tickets triage routed itself, the share resolved
    with no reassignment. Model accuracy counts every resolved ticket the model had a guess
    for, routed or not, against the team that finally did the work.
    """
    outcomes = list(await session.scalars(select(TriageOutcomeRow)))
    routed_resolved = [o for o in outcomes if o.auto_routed and o.resolved_at is not None]
    first_dispatch = [o for o in routed_resolved if o.reassignments == 0]
    predicted_resolved = [o for o in outcomes if o.predicted_team and o.resolved_at is not None]
    model_right = [o for o in predicted_resolved if o.final_team == o.predicted_team]
    teams: dict[str, dict[str, int]] = {}
    for o in outcomes:
        for team in {o.predicted_team, o.final_team} - {None}:
            assert team is not None
            teams.setdefault(team, {"predicted": 0, "actual": 0, "hit": 0, "auto": 0})
        if o.predicted_team:
            teams[o.predicted_team]["predicted"] += 1
            teams[o.predicted_team]["auto"] += int(o.auto_routed)
        if o.final_team:
            teams[o.final_team]["actual"] += 1
            teams[o.final_team]["hit"] += int(o.final_team == o.predicted_team)
    duplicates = await session.scalar(select(func.count()).select_from(DuplicateReportRow)) or 0
    submissions = len(outcomes) + duplicates
    return {
        "triaged": len(outcomes),
        "auto_routed": sum(o.auto_routed for o in outcomes),
        "first_dispatch_accuracy": _ratio(len(first_dispatch), len(routed_resolved)),
        "model_accuracy_resolved": _ratio(len(model_right), len(predicted_resolved)),
        "teams": {
            team: {
                "precision": _ratio(c["hit"], c["predicted"]),
                "recall": _ratio(c["hit"], c["actual"]),
                "coverage": _ratio(c["auto"], c["predicted"]),
                "predicted": c["predicted"],
                "actual": c["actual"],
            }
            for team, c in sorted(teams.items())
        },
        "duplicates": duplicates,
        "repeat_submission_rate": _ratio(duplicates, submissions),
    }


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None
