"""Deliverables: uploading versions of what a stage hands over, reading them, and contracts.

An upload streams into the artifact store's temporary place, hashed and counted on the way;
its type is judged by its content; only then is it attached by a workflow Update, and only an
attached upload is kept. Reading a version is a read of the field `deliverables.<key>`.
"""

from __future__ import annotations

import difflib
from collections.abc import AsyncIterator
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from pydantic import BaseModel, Field, JsonValue
from temporalio.client import Client
from temporalio.service import RPCError

from api.deps import CallerDep, SettingsDep, require_roles
from api.problems import ProblemError
from api.schemas import Strict, TransitionView
from api.ticket_access import authorize_change, change_ticket, readable_ticket
from api.uploads import MultipartFile, TextProbe
from api.workflow_calls import rpc_problem
from domain.deliverables import (
    FILE_KINDS,
    TEXT_KINDS,
    VALUE_KINDS,
    DeliverableSpec,
    StageContract,
    Submission,
    file_name_problem,
    submission_problems,
)
from domain.media_types import HEAD_BYTES, OCTETS, TEXT, detect_media_type
from domain.messages import AmendContractInput, AttachDeliverableInput
from domain.problems import Problem, pointer
from domain.ticket import FINAL_TICKET
from forms.validation import data_problems_in_thread, schema_problems_in_thread
from policies.authorization import WORK_TASKS
from policies.redaction import FieldView
from store import deliverables as store
from store.artifacts import ArtifactStore, TooLarge
from store.models import DeliverableVersionRow, TicketRow

# Each side of a diff is read whole: text deliverables beyond this are compared by hash only.
MAX_DIFF_BYTES = 2 * 1024 * 1024


class VersionView(BaseModel):
    """One version of a deliverable."""

    version: int
    sha256: str
    size: int
    media_type: str
    file_name: str
    author: str
    created_at: str
    value: JsonValue = Field(default=None, description="A git_commit, url or record's value.")


class VersionPage(BaseModel):
    """A deliverable's versions, oldest first."""

    stage: str
    deliverable: str
    items: list[VersionView]


class AttachValueRequest(Strict):
    """The value of a `git_commit`, `url` or `record` deliverable."""

    value: JsonValue


class AmendContractRequest(Strict):
    """One stage's new contract on this ticket, and why."""

    stage: str = Field(min_length=1, max_length=63)
    deliverables: list[DeliverableSpec] = Field(max_length=50)
    reason: str = Field(min_length=1, max_length=2000)


router = APIRouter(tags=["deliverables"])


async def artifact_store(request: Request) -> ArtifactStore:
    """The app's artifact store."""
    found: ArtifactStore = request.app.state.artifacts
    return found


ArtifactsDep = Annotated[ArtifactStore, Depends(artifact_store)]


async def stage_contract(client: Client, key: str, stage: str) -> StageContract:
    """The stage's contract as the ticket's workflow holds it (amendments included)."""
    try:
        contract: StageContract = await client.get_workflow_handle(key).query(
            "contract", stage, result_type=StageContract
        )
    except RPCError as exc:
        raise rpc_problem(key, exc) from exc
    if not contract.found:
        raise ProblemError(404, f"ticket {key} has no stage {stage!r}")
    return contract


def _require_open(row: TicketRow) -> None:
    if row.status in {s.value for s in FINAL_TICKET}:
        raise ProblemError(409, f"ticket {row.key} is {row.status}: it takes no deliverables")


async def _spec(caller: CallerDep, key: str, stage: str, deliverable: str) -> DeliverableSpec:
    spec = (await stage_contract(caller.temporal, key, stage)).spec(deliverable)
    if spec is None:
        raise ProblemError(404, f"stage {stage!r} of {key} has no deliverable {deliverable!r}")
    return spec


def _may_read(view: FieldView, deliverable: str) -> None:
    if not view.readable(f"deliverables.{deliverable}"):
        raise ProblemError(
            403,
            f"you may not read deliverable {deliverable!r}",
            problems=[
                Problem(
                    pointer=pointer("deliverables", deliverable),
                    detail=f"may not read ticket.deliverables.{deliverable}",
                )
            ],
        )


def _refused(status: int, spec: DeliverableSpec, detail: str) -> ProblemError:
    return ProblemError(
        status, detail, problems=[Problem(pointer=pointer("deliverables", spec.key), detail=detail)]
    )


# The body is read by the view as it streams, so FastAPI does not describe it by itself.
UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {"file": {"type": "string", "format": "binary"}},
                }
            }
        },
    }
}


@router.post(
    "/tickets/{key}/deliverables/{stage}/{deliverable}",
    response_model=TransitionView,
    dependencies=[Depends(require_roles(*WORK_TASKS))],
    openapi_extra=UPLOAD_BODY,
)
async def upload(
    key: str,
    stage: str,
    deliverable: str,
    request: Request,
    caller: CallerDep,
    settings: SettingsDep,
    artifacts: ArtifactsDep,
) -> TransitionView:
    """Upload a new version of a file-like deliverable (multipart/form-data, part `file`).

    The body streams to the artifact store; 413 past the contract's `max_bytes`, 415 when the
    content's type (named in the answer) is not one the contract accepts. Nothing is kept
    unless the version is attached.
    """
    ticket, view = await readable_ticket(
        session=caller.session, key=key, actor=caller.actor, access=caller.access
    )
    _require_open(ticket)
    probe = AttachDeliverableInput(
        stage_key=stage, deliverable=deliverable, actor=caller.actor, submission=Submission()
    )
    authorize_change(caller, ticket, view, "attach_deliverable", probe)
    spec = await _spec(caller, key, stage, deliverable)
    if spec.kind not in FILE_KINDS:
        raise _refused(409, spec, f"a {spec.kind} deliverable is not uploaded as a file")
    body = MultipartFile(request)
    file_name = await body.start()
    why = file_name_problem(file_name)
    if why is not None:
        raise ProblemError(422, why, problems=[Problem(pointer="/file/filename", detail=why)])
    limit = min(spec.size_limit, settings.max_artifact_bytes)
    received = artifacts.receive(max_bytes=limit)
    text = TextProbe()
    try:
        async for chunk in body.chunks():
            await received.write(chunk)
            text.feed(chunk)
        text.feed(b"", final=True)
        sha256 = await received.finish()
    except TooLarge as exc:
        raise _refused(413, spec, f"the file is larger than {exc.limit} bytes") from exc
    except BaseException:
        await received.discard()
        raise
    media_type = detect_media_type(received.head, complete=received.size <= HEAD_BYTES)
    if media_type == TEXT and not text.text:
        media_type = OCTETS  # text at the start, not all through
    submission = Submission(
        sha256=sha256,
        size=received.size,
        media_type=media_type,
        file_name=file_name,
        blank=spec.kind in TEXT_KINDS and text.blank,
    )
    try:
        problems = submission_problems(spec, submission)
        if problems:
            wrong_type = spec.accepted_types() and media_type not in (spec.accepted_types() or [])
            status, detail = (
                (415, f"the content is {media_type}, which {deliverable!r} does not accept")
                if wrong_type
                else (422, f"{deliverable!r} does not meet its spec")
            )
            raise ProblemError(status, detail, problems=problems)
        payload = probe.model_copy(update={"submission": submission})
        result = await change_ticket(
            caller, key, "attach_deliverable", payload, ticket=(ticket, view)
        )
    except BaseException:
        await received.discard()
        raise
    await received.commit()
    return result


@router.post(
    "/tickets/{key}/deliverables/{stage}/{deliverable}/value",
    response_model=TransitionView,
    dependencies=[Depends(require_roles(*WORK_TASKS))],
)
async def attach_value(
    key: str, stage: str, deliverable: str, body: AttachValueRequest, caller: CallerDep
) -> TransitionView:
    """Attach a new version of a value deliverable: a commit id, a URL or a record.

    A record is checked against its contract's JSON Schema (422, pointers under `/value`).
    """
    ticket, view = await readable_ticket(
        session=caller.session, key=key, actor=caller.actor, access=caller.access
    )
    _require_open(ticket)
    payload = AttachDeliverableInput(
        stage_key=stage,
        deliverable=deliverable,
        actor=caller.actor,
        submission=Submission(value=body.value),
    )
    authorize_change(caller, ticket, view, "attach_deliverable", payload)
    spec = await _spec(caller, key, stage, deliverable)
    if spec.kind not in VALUE_KINDS:
        raise _refused(409, spec, f"a {spec.kind} deliverable is uploaded as a file")
    problems = submission_problems(spec, payload.submission)
    if not problems and spec.kind == "record" and spec.schema_ is not None:
        found = await data_problems_in_thread(spec.schema_, body.value)
        problems = [p.model_copy(update={"pointer": "/value" + p.pointer}) for p in found]
    if problems:
        raise ProblemError(422, f"{deliverable!r} does not meet its spec", problems=problems)
    return await change_ticket(caller, key, "attach_deliverable", payload, ticket=(ticket, view))


def _version_view(row: DeliverableVersionRow) -> VersionView:
    return VersionView(
        version=row.version,
        sha256=row.sha256,
        size=row.size,
        media_type=row.media_type,
        file_name=row.file_name,
        author=row.author,
        created_at=row.created_at.isoformat(),
        value=row.value,
    )


@router.get("/tickets/{key}/deliverables/{stage}/{deliverable}/versions")
async def versions(key: str, stage: str, deliverable: str, caller: CallerDep) -> VersionPage:
    """The versions of a deliverable, oldest first (a read of `deliverables.<key>`)."""
    _ticket, view = await readable_ticket(
        session=caller.session, key=key, actor=caller.actor, access=caller.access
    )
    _may_read(view, deliverable)
    rows = await store.list_versions(
        session=caller.session, key=key, stage=stage, deliverable=deliverable
    )
    return VersionPage(stage=stage, deliverable=deliverable, items=[_version_view(r) for r in rows])


async def _version(
    caller: CallerDep, key: str, stage: str, deliverable: str, n: int
) -> DeliverableVersionRow:
    _ticket, view = await readable_ticket(
        session=caller.session, key=key, actor=caller.actor, access=caller.access
    )
    _may_read(view, deliverable)
    row = await store.get_version(
        session=caller.session, key=key, stage=stage, deliverable=deliverable, version=n
    )
    if row is None:
        raise ProblemError(404, f"{deliverable!r} of stage {stage!r} has no version {n}")
    return row


@router.get(
    "/tickets/{key}/deliverables/{stage}/{deliverable}/versions/{n}",
    response_class=StreamingResponse,
)
async def download(
    key: str,
    stage: str,
    deliverable: str,
    n: Annotated[int, Path(ge=1, le=1_000_000)],
    caller: CallerDep,
    artifacts: ArtifactsDep,
) -> Response:
    """One version's bytes, with its detected media type and its file name as given (a value
    kind's version: its value, as JSON)."""
    row = await _version(caller, key, stage, deliverable, n)
    if row.value is not None:
        return JSONResponse(row.value, headers={"X-Content-Type-Options": "nosniff"})
    if not await artifacts.contains(row.sha256):
        raise ProblemError(410, f"the artifact {row.sha256} is no longer stored")
    sha256, size, media_type = row.sha256, row.size, row.media_type
    disposition = f"attachment; filename*=UTF-8''{quote(row.file_name, safe='')}"
    await caller.session.rollback()  # the stream may outlast the read
    return StreamingResponse(
        artifacts.read(sha256),
        media_type=media_type,
        headers={
            "Content-Disposition": disposition,
            "Content-Length": str(size),
            "X-Content-Type-Options": "nosniff",
            "ETag": f'"{sha256}"',
        },
    )


async def _text(artifacts: ArtifactStore, row: DeliverableVersionRow) -> list[str]:
    if row.size > MAX_DIFF_BYTES:
        raise ProblemError(422, f"version {row.version} is too large to compare as text")
    chunks: list[bytes] = []
    stream: AsyncIterator[bytes] = artifacts.read(row.sha256)
    async for chunk in stream:
        chunks.append(chunk)
    try:
        return b"".join(chunks).decode("utf-8").splitlines(keepends=True)
    except UnicodeDecodeError as exc:
        raise ProblemError(422, f"version {row.version} is not UTF-8 text") from exc


@router.get(
    "/tickets/{key}/deliverables/{stage}/{deliverable}/versions/{n}/diff",
    response_class=PlainTextResponse,
)
async def diff(
    key: str,
    stage: str,
    deliverable: str,
    n: Annotated[int, Path(ge=1, le=1_000_000)],
    against: Annotated[int, Query(ge=1, le=1_000_000)],
    caller: CallerDep,
    artifacts: ArtifactsDep,
) -> PlainTextResponse:
    """A unified diff from version `against` to version `n` (code, config and documents)."""
    spec = await _spec(caller, key, stage, deliverable)
    if spec.kind not in TEXT_KINDS:
        raise ProblemError(409, f"a {spec.kind} deliverable has no text to compare")
    new = await _version(caller, key, stage, deliverable, n)
    old = await _version(caller, key, stage, deliverable, against)
    lines = difflib.unified_diff(
        await _text(artifacts, old),
        await _text(artifacts, new),
        fromfile=f"{deliverable}@{old.version}",
        tofile=f"{deliverable}@{new.version}",
    )
    return PlainTextResponse("".join(lines), media_type="text/x-diff")


@router.post(
    "/tickets/{key}/contract",
    response_model=TransitionView,
    dependencies=[Depends(require_roles(*WORK_TASKS))],
)
async def amend_contract(key: str, body: AmendContractRequest, caller: CallerDep) -> TransitionView:
    """Replace one stage's deliverable contract on this ticket (its owning department)."""
    problems: list[Problem] = []
    for j, spec in enumerate(body.deliverables):
        if spec.kind == "record" and spec.schema_ is not None:
            problems += await schema_problems_in_thread(
                spec.schema_, at=pointer("deliverables", j, "schema")
            )
    if problems:
        raise ProblemError(422, "a record schema is not a valid form schema", problems=problems)
    payload = AmendContractInput(
        stage_key=body.stage, actor=caller.actor, deliverables=body.deliverables, reason=body.reason
    )
    return await change_ticket(caller, key, "amend_contract", payload)
