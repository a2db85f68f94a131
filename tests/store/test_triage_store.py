"""Triage bookkeeping in the projection, labels for training, KPIs, the model registry."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.ticket import TicketEvent
from store import triage as triage_store
from store.models import TriageLabelRow, TriageOutcomeRow
from store.projection import apply_projection
from tests.store.snapshots import T0, event, snapshot

Sessions = async_sessionmaker[AsyncSession]
TICKET = {"title": "VPN", "description": "drops", "fields": {}, "numbers": {}}


def triaged(seq: int, team: str | None, predicted: str = "network") -> TicketEvent:
    return event(
        seq,
        "triaged",
        ticket=TICKET,
        result={"model_version": 1, "team": predicted, "confidence": 0.9},
        routed=team is not None,
        team=team,
    )


async def project(sessions: Sessions, key: str, seq: int, *events: TicketEvent) -> int:
    async with sessions() as session, session.begin():
        return await apply_projection(
            session=session,
            ticket=snapshot(key, last_seq=seq),
            events=list(events),
        )


async def outcome(sessions: Sessions, key: str) -> TriageOutcomeRow:
    async with sessions() as session:
        row = await session.get(TriageOutcomeRow, key)
    assert row is not None
    return row


async def test_routing_reassignment_and_resolution_are_tracked_once(
    session_factory: Sessions,
) -> None:
    reassigned = event(
        3, "task_reassigned", group="desktop", before={"group": "network"}, reason="pc"
    )
    await project(session_factory, "A-1", 2, event(1, "created"), triaged(2, "network"))
    await project(session_factory, "A-1", 3, reassigned)
    assert await project(session_factory, "A-1", 3, reassigned) == 0  # a retried activity
    # Moving work between people of the same team, or away from another team, is no label.
    await project(
        session_factory,
        "A-1",
        4,
        event(4, "task_reassigned", group="ops", before={"group": "ops"}, reason="x"),
    )
    await project(session_factory, "A-1", 5, event(5, "resolved"))
    row = await outcome(session_factory, "A-1")
    assert (row.first_team, row.final_team, row.reassignments) == ("network", "desktop", 1)
    assert row.resolved_at == T0 + timedelta(minutes=5)
    async with session_factory() as session:
        labels = list(await session.scalars(select(TriageLabelRow)))
        training = await triage_store.labelled_tickets(session=session)
        kpis = await triage_store.triage_kpis(session=session)
    assert [(lab.seq, lab.team, lab.source, lab.reason) for lab in labels] == [
        (3, "desktop", "reassignment", "pc")
    ]
    assert [(t.title, team) for t, team, _, _ in training] == [("VPN", "desktop")]
    assert kpis["first_dispatch_accuracy"] == 0.0
    assert kpis["teams"]["network"]["precision"] == 0.0
    assert kpis["teams"]["desktop"]["recall"] == 0.0


async def test_a_dispatch_before_the_model_answered_sets_the_first_team(
    session_factory: Sessions,
) -> None:
    dispatched = event(2, "triage_dispatched", team="desktop", category="hw", reason="r")
    await project(session_factory, "B-1", 3, event(1, "created"), dispatched, triaged(3, None))
    row = await outcome(session_factory, "B-1")
    assert (row.auto_routed, row.first_team, row.final_team) == (False, "desktop", "desktop")
    async with session_factory() as session:
        training = await triage_store.labelled_tickets(session=session)
    assert [(team, category) for _, team, category, _ in training] == [("desktop", "hw")]


async def test_registry_promotes_retires_and_rolls_back(session_factory: Sessions) -> None:
    async with session_factory() as session, session.begin():
        for version in (1, 2):
            assert await triage_store.next_model_version(session=session) == version
            await triage_store.add_model(
                session=session,
                version=version,
                path=f"triage-models/triage-v{version}.joblib",
                sha256="0" * 64,
                training_size=10,
                metrics={"accuracy": 0.5},
                features={},
                now=T0,
            )
            await triage_store.promote_model(session=session, version=version)
        with pytest.raises(LookupError):
            await triage_store.promote_model(session=session, version=9)
    async with session_factory() as session, session.begin():
        back = await triage_store.rollback_model(session=session)
        assert back.version == 1
        statuses = {r.version: r.status for r in await triage_store.list_models(session=session)}
    assert statuses == {1: "active", 2: "retired"}
    async with session_factory() as session, session.begin():
        with pytest.raises(LookupError, match="no earlier"):
            await triage_store.rollback_model(session=session)
