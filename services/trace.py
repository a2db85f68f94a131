"""A ticket's evidence trace, read from its projections and built by the domain."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from domain.definitions import ProcessDefinition
from domain.feedback import Solution
from domain.ticket import TicketEvent
from domain.trace import (
    Person,
    RatingTrace,
    SnapshotRecord,
    Trace,
    TraceSources,
    VersionRecord,
    build_trace,
)
from store import deliverables, devices, feedback, tickets, users


async def ticket_trace(*, session: AsyncSession, key: str, definition: ProcessDefinition) -> Trace:
    """The trace of one ticket: its events, deliverable versions, snapshots and actors."""
    events = [
        TicketEvent(seq=r.seq, type=r.type, at=r.at, actor=r.actor, data=r.data)
        for r in await tickets.list_all_events(session=session, key=key)
    ]
    versions = [
        VersionRecord(
            stage=r.stage,
            deliverable=r.deliverable,
            version=r.version,
            sha256=r.sha256,
            size=r.size,
            media_type=r.media_type,
            file_name=r.file_name,
            author=r.author,
            at=r.created_at,
            value=r.value,
        )
        for r in await deliverables.list_ticket_versions(session=session, key=key)
    ]
    snapshots = [
        SnapshotRecord(sha256=r.sha256, document=r.document)
        for r in await devices.list_ticket_snapshots(session=session, key=key)
    ]
    names = sorted({e.actor for e in events})
    people = {
        u.name: Person(department=u.department, role=u.role)
        for u in await users.get_users(session=session, names=names)
    }
    rated = await feedback.get_feedback(session=session, ticket_key=key)
    rating = (
        RatingTrace(
            csat=rated.csat,
            nps=rated.nps,
            given_at=rated.given_at,
            comment=rated.comment,
            solution=Solution(
                stage=rated.stage,
                team=rated.team,
                deliverables=rated.deliverables,
                playbook=rated.playbook,
            ),
        )
        if rated is not None
        else None
    )
    sources = TraceSources(
        key=key,
        definition=definition,
        events=events,
        versions=versions,
        snapshots=snapshots,
        people=people,
        rating=rating,
    )
    return build_trace(sources)
