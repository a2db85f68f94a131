"""Remediation playbooks: a resolved ticket's script or configuration, promoted for its category.

A playbook is read as the deliverable it came from is: its content only by whoever may read
that deliverable on that ticket.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, status
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse, Response
from pydantic import Field, field_validator

from api.deps import AccessDep, ActorDep, CallerDep, SessionDep, require_roles
from api.params import COLUMN_INT_MAX
from api.playbook_views import (
    PlaybookDetail,
    PlaybookView,
    playbook_document,
    shown_playbooks,
    source_views,
)
from api.problems import ProblemError
from api.routes.deliverables import ArtifactsDep, stage_contract
from api.schemas import Strict
from api.ticket_access import readable_ticket
from domain.deliverables import TEXT_PLAIN
from domain.problems import Problem
from policies.authorization import PROMOTE_PLAYBOOKS, READ_PLAYBOOKS, may_promote
from policies.playbooks import may_read_playbook, redact_playbook, source_field
from services.playbooks import PlaybookConflict, promote, promotion_conflict
from store import deliverables as deliverables_store
from store import playbooks as store
from store.artifacts import ArtifactStore
from store.models import PlaybookRow

# Content shown inline up to this size; larger playbooks are read as their deliverable version.
MAX_CONTENT_BYTES = 2 * 1024 * 1024
KEY = r"^[a-z][a-z0-9_-]{0,62}$"


class PromoteRequest(Strict):
    """Which version of which ticket's deliverable becomes a playbook, and its title."""

    ticket: str = Field(min_length=1, max_length=40)
    stage: str = Field(pattern=KEY)
    deliverable: str = Field(pattern=KEY)
    version: int = Field(ge=1, le=COLUMN_INT_MAX)
    title: str = Field(min_length=1, max_length=200)

    @field_validator("title")
    @classmethod
    def _not_blank(cls, title: str) -> str:
        if not title.strip():
            raise ValueError("the title is blank")
        return title.strip()


class PlaybookPage(Strict):
    """Playbooks newest first; pass `next_before` as `before` for the next page."""

    items: list[PlaybookView]
    next_before: int | None


router = APIRouter(tags=["playbooks"])
READERS = [Depends(require_roles(*READ_PLAYBOOKS))]


@router.post(
    "/playbooks",
    status_code=status.HTTP_201_CREATED,
    response_model=PlaybookView,
    dependencies=[Depends(require_roles(*PROMOTE_PLAYBOOKS))],
)
async def promote_playbook(body: PromoteRequest, caller: CallerDep) -> Response:
    """Promote a version of a resolved or closed ticket's code or config deliverable to a
    playbook of the ticket's category (agents of its owning department, or admins).

    404 for a ticket the caller may not see, or a stage, deliverable or version it does not
    have; 403 for another department, or a caller who may not read the deliverable; 409 for
    a ticket not resolved or closed, a kind other than code or config, or a version promoted
    already.
    """
    session, actor = caller.session, caller.actor
    ticket, view = await readable_ticket(
        session=session, key=body.ticket, actor=actor, access=caller.access
    )
    if not may_promote(actor.role, actor.department, ticket.department):
        raise ProblemError(403, f"only department {ticket.department!r} promotes its fixes")
    if not view.readable(source_field(body.deliverable)):
        raise ProblemError(
            403,
            f"you may not read deliverable {body.deliverable!r}",
            problems=[
                Problem(
                    pointer="/deliverable",
                    detail=f"may not read ticket.{source_field(body.deliverable)}",
                )
            ],
        )
    why = promotion_conflict(ticket=ticket)
    if why is not None:
        raise ProblemError(409, why, problems=[Problem(pointer="/ticket", detail=why)])
    spec = (await stage_contract(caller.temporal, ticket.key, body.stage)).spec(body.deliverable)
    if spec is None:
        raise ProblemError(
            404,
            f"stage {body.stage!r} of {ticket.key} has no deliverable {body.deliverable!r}",
            problems=[Problem(pointer="/deliverable", detail="no such deliverable")],
        )
    version = await deliverables_store.get_version(
        session=session,
        key=ticket.key,
        stage=body.stage,
        deliverable=body.deliverable,
        version=body.version,
    )
    if version is None:
        raise ProblemError(
            404,
            f"{body.deliverable!r} of {ticket.key} has no version {body.version}",
            problems=[Problem(pointer="/version", detail="no such version")],
        )
    try:
        row = await promote(
            session=session,
            ticket=ticket,
            spec=spec,
            version=version,
            title=body.title,
            created_by=actor.user,
            now=datetime.now(UTC),
        )
    except PlaybookConflict as exc:
        raise ProblemError(
            409, str(exc), problems=[Problem(pointer="/deliverable", detail=str(exc))]
        ) from exc
    await session.commit()
    shown = redact_playbook(playbook_document(row), view)
    headers = {"Location": f"/playbooks/{row.id}"}
    return JSONResponse(jsonable_encoder(shown), status_code=201, headers=headers)


@router.get("/playbooks", response_model=PlaybookPage, dependencies=READERS)
async def list_playbooks(
    session: SessionDep,
    actor: ActorDep,
    access: AccessDep,
    category: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    before: Annotated[int | None, Query(ge=1, le=COLUMN_INT_MAX)] = None,
) -> Response:
    """Playbooks newest first, of one category if given, each as far as the caller may read
    the deliverable it came from."""
    rows = await store.list_playbooks(
        session=session, category=category, limit=limit, before=before
    )
    items = await shown_playbooks(session=session, access=access, actor=actor, rows=rows)
    next_before = rows[-1].id if len(rows) == limit else None
    return JSONResponse(jsonable_encoder({"items": items, "next_before": next_before}))


@router.get("/playbooks/{playbook_id}", response_model=PlaybookDetail, dependencies=READERS)
async def get_playbook(
    playbook_id: Annotated[int, Path(ge=1, le=COLUMN_INT_MAX)],
    session: SessionDep,
    actor: ActorDep,
    access: AccessDep,
    artifacts: ArtifactsDep,
) -> Response:
    """One playbook with its content (UTF-8 text up to 2 MiB) for whoever may read its
    deliverable; the rest see what exists, for which category, of which kind."""
    row = await store.get_playbook(session=session, playbook_id=playbook_id)
    if row is None:
        raise ProblemError(404, f"no playbook {playbook_id}")
    views = await source_views(session=session, access=access, actor=actor, rows=[row])
    source = views.get(row.ticket_key)
    document = playbook_document(row)
    if may_read_playbook(row.deliverable, source):
        document["content"] = await _content(artifacts, row)
    return JSONResponse(jsonable_encoder(redact_playbook(document, source)))


async def _content(artifacts: ArtifactStore, row: PlaybookRow) -> str | None:
    """The playbook's text, or None when it is not text, too large, or no longer stored."""
    if row.media_type != TEXT_PLAIN or row.size > MAX_CONTENT_BYTES:
        return None
    if not await artifacts.contains(row.sha256):
        return None
    chunks: list[bytes] = []
    stream: AsyncIterator[bytes] = artifacts.read(row.sha256)
    async for chunk in stream:
        chunks.append(chunk)
    try:
        return b"".join(chunks).decode("utf-8")
    except UnicodeDecodeError:
        return None
