"""Process owners publish, check and read definitions, and see them as graphs."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, status
from fastapi.responses import Response

from api.deps import AccessDep, ActorDep, SessionDep, SettingsDep, require_roles
from api.params import Version
from api.problems import ProblemError
from api.process_rendering import graph_response
from api.sandbox import (
    claimed_template,
    require_definable_fields,
    require_direct_publishing,
)
from api.schemas import (
    DefinitionDetail,
    DefinitionSummary,
    ValidationReport,
)
from domain.definitions import ProcessDefinition
from domain.json_values import TOO_DEEP, value_problems
from domain.problems import Problem, Rejected
from domain.process_graph import ProcessGraph, process_graph
from domain.ticket import Actor
from policies.authorization import PUBLISH
from services.process_publishing import publish_rules
from services.publishing import (
    NotOwner,
    check_definition,
    parse_text,
    publish_definition,
)
from store import definitions as store
from store.models import DefinitionRow

router = APIRouter(tags=["definitions"])
Publisher = Annotated[Actor, Depends(require_roles(*PUBLISH))]
YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml")


async def _document(request: Request) -> object:
    """The request body as JSON, or YAML when the content type says so."""
    raw = await request.body()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ProblemError(400, "the body is not UTF-8") from exc
    is_yaml = request.headers.get("content-type", "").split(";")[0].strip() in YAML_TYPES
    try:
        document = parse_text(text=text, json_only=not is_yaml)
    except Rejected as exc:
        raise ProblemError(400, exc.problems[0].detail) from exc
    except RecursionError as exc:
        raise ProblemError(422, TOO_DEEP, problems=[Problem(pointer="", detail=TOO_DEEP)]) from exc
    # JSON bodies were checked at the door (api.body_guard); YAML ones are checked here alike.
    problems = value_problems(document) if is_yaml else []
    if problems:
        raise ProblemError(
            422, "the document holds values the service cannot store", problems=problems
        )
    return document


DEFINITION_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {"type": "object"},
                "example": {
                    "key": "it-incident",
                    "title": "IT incident",
                    "key_prefix": "IT",
                    "department": "service-desk",
                    "intake_form": {"type": "object"},
                    "stages": [{"key": "triage", "title": "Triage", "group": "service-desk"}],
                },
            },
            "application/yaml": {"schema": {"type": "string"}},
        },
    }
}


def _summary(row: DefinitionRow) -> DefinitionSummary:
    return DefinitionSummary.model_validate(row, from_attributes=True)


def _detail(row: DefinitionRow) -> DefinitionDetail:
    return DefinitionDetail.model_validate(row, from_attributes=True)


@router.post(
    "/definitions",
    status_code=status.HTTP_201_CREATED,
    response_model=DefinitionDetail,
    openapi_extra=DEFINITION_BODY,
)
async def publish(
    request: Request,
    session: SessionDep,
    actor: Publisher,
    access: AccessDep,
    settings: SettingsDep,
) -> DefinitionDetail:
    """Validate a definition completely and publish it as the next version of its key."""
    require_direct_publishing(access, actor)
    document = await _document(request)
    try:
        if claimed := claimed_template(document):
            raise Rejected(claimed)
        rules = publish_rules(settings)
        resolved = await check_definition(session=session, document=document, rules=rules)
        # Before anything is written: on SQLite the insert's savepoint commits by itself.
        require_definable_fields(access, actor, resolved.model_dump())
        row = await publish_definition(
            session=session,
            document=document,
            published_by=actor.user,
            publisher=actor,
            rules=rules,
        )
    except NotOwner as exc:
        raise ProblemError(403, exc.problem.detail, problems=[exc.problem]) from exc
    except Rejected as exc:
        raise ProblemError(422, "the definition is not valid", problems=exc.problems) from exc
    await session.commit()
    return _detail(row)


@router.post(
    "/definitions/validate", response_model=ValidationReport, openapi_extra=DEFINITION_BODY
)
async def validate(
    request: Request, session: SessionDep, _actor: ActorDep, settings: SettingsDep
) -> ValidationReport:
    """Check a definition without publishing it; lists every problem."""
    document = await _document(request)
    if claimed := claimed_template(document):
        return ValidationReport(valid=False, errors=claimed)
    try:
        await check_definition(session=session, document=document, rules=publish_rules(settings))
    except Rejected as exc:
        return ValidationReport(valid=False, errors=exc.problems)
    return ValidationReport(valid=True, errors=[])


GraphFormat = Annotated[
    Literal["json", "mermaid", "svg"],
    Query(description="json (nodes and edges), mermaid (a flowchart's text) or svg"),
]
GRAPH_RESPONSES: dict[int | str, dict[str, object]] = {
    200: {
        "content": {
            "text/plain": {"schema": {"type": "string"}},
            "image/svg+xml": {"schema": {"type": "string"}},
        },
        "description": "The graph in the requested format.",
    },
    503: {
        "content": {"application/problem+json": {"schema": {"type": "object"}}},
        "description": "SVG was asked for and this server cannot draw it (no Graphviz `dot`).",
    },
}


async def _graph_response(definition: ProcessDefinition, format: str) -> Response:
    return await graph_response(process_graph(definition), format)


@router.post(
    "/definitions/graph",
    response_model=ProcessGraph,
    responses=GRAPH_RESPONSES,
    openapi_extra=DEFINITION_BODY,
)
async def draft_graph(
    request: Request,
    session: SessionDep,
    _actor: ActorDep,
    settings: SettingsDep,
    format: GraphFormat = "json",
) -> Response:
    """The graph of a draft, checked like a publish (422 lists every problem), stored nowhere."""
    document = await _document(request)
    try:
        if claimed := claimed_template(document):
            raise Rejected(claimed)
        definition = await check_definition(
            session=session, document=document, rules=publish_rules(settings)
        )
    except Rejected as exc:
        raise ProblemError(422, "the definition is not valid", problems=exc.problems) from exc
    return await _graph_response(definition, format)


@router.get("/definitions", response_model=list[DefinitionSummary])
async def list_definitions(session: SessionDep, _actor: ActorDep) -> list[DefinitionSummary]:
    """Every published version of every definition."""
    return [_summary(r) for r in await store.list_definitions(session=session)]


@router.get("/definitions/{key}", response_model=DefinitionDetail)
async def latest_definition(key: str, session: SessionDep, _actor: ActorDep) -> DefinitionDetail:
    """The latest version of a definition."""
    row = await store.get_definition(session=session, key=key)
    if row is None:
        raise ProblemError(404, f"no definition {key}")
    return _detail(row)


@router.get("/definitions/{key}/versions", response_model=list[DefinitionSummary])
async def definition_versions(
    key: str, session: SessionDep, _actor: ActorDep
) -> list[DefinitionSummary]:
    """Every version of one definition, newest first."""
    rows = await store.list_definitions(session=session, key=key)
    if not rows:
        raise ProblemError(404, f"no definition {key}")
    return [_summary(r) for r in rows]


@router.get("/definitions/{key}/versions/{version}", response_model=DefinitionDetail)
async def definition_version(
    key: str, version: Version, session: SessionDep, _actor: ActorDep
) -> DefinitionDetail:
    """One version of a definition."""
    row = await store.get_definition(session=session, key=key, version=version)
    if row is None:
        raise ProblemError(404, f"no definition {key}@{version}")
    return _detail(row)


@router.get(
    "/definitions/{key}/versions/{version}/graph",
    response_model=ProcessGraph,
    responses=GRAPH_RESPONSES,
)
async def definition_graph(
    key: str, version: Version, session: SessionDep, _actor: ActorDep, format: GraphFormat = "json"
) -> Response:
    """One version's stages and the paths between them, as data, Mermaid or SVG."""
    row = await store.get_definition(session=session, key=key, version=version)
    if row is None:
        raise ProblemError(404, f"no definition {key}@{version}")
    return await _graph_response(ProcessDefinition.model_validate(row.document), format)
