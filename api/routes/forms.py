"""Forms: publishing and reading versions, layouts for front ends, diffs, drafts from a sentence."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, status
from pydantic import BaseModel, Field

from api.deps import AccessDep, ActorDep, SessionDep, require_roles
from api.params import Version
from api.problems import ProblemError
from api.sandbox import require_direct_publishing
from api.schemas import FormSummary, JsonObject, Strict, ValidationReport
from domain.problems import Rejected
from domain.ticket import Actor
from forms.diff import FormDiff, diff_forms
from forms.generate import GenerationRejected, generate_form_in_thread
from forms.layout import FormLayout, form_layout
from forms.validation import schema_problems_in_thread
from policies.authorization import PUBLISH
from services.publishing import publish_form
from store import definitions as store
from store.models import FormRow

router = APIRouter(tags=["forms"])
Publisher = Annotated[Actor, Depends(require_roles(*PUBLISH))]


class PublishFormRequest(Strict):
    """A form to publish as the next version of its key."""

    key: str = Field(pattern=r"^[a-z][a-z0-9_-]{0,62}$")
    title: str = Field(min_length=1, max_length=200)
    schema_: JsonObject = Field(alias="schema")


class FormDetail(FormSummary):
    """A published form version with its schema."""

    json_schema: JsonObject = Field(serialization_alias="schema")


class GenerateFormRequest(Strict):
    """A sentence naming the fields to collect, in Chinese or English."""

    text: str = Field(
        max_length=100_000, examples=["需要收集客户手机号、故障设备SN码、期望回电时间"]
    )
    title: str | None = Field(default=None, min_length=1, max_length=200)


class CheckFormRequest(Strict):
    """A form schema to check without publishing it (a generated draft after editing, say)."""

    schema_: JsonObject = Field(alias="schema")


class GeneratedForm(BaseModel):
    """A draft form: review it, edit it, then publish it with POST /forms."""

    json_schema: dict[str, Any] = Field(serialization_alias="schema")
    layout: FormLayout
    review: list[str] = Field(description="Pointers of fields a person should check.")


async def _form_row(session: SessionDep, key: str, version: int) -> FormRow:
    row = await store.get_form(session=session, key=key, version=version)
    if row is None:
        raise ProblemError(404, f"no form {key}@{version}")
    return row


@router.get("/forms/{key}/versions/{version}/layout", response_model=FormLayout)
async def layout(key: str, version: Version, session: SessionDep, _actor: ActorDep) -> FormLayout:
    """The form as a front end draws it: ordered fields, widgets, dependent fields."""
    return form_layout((await _form_row(session, key, version)).schema)


@router.get("/forms/{key}/versions/{a}/diff/{b}", response_model=FormDiff)
async def diff(key: str, a: Version, b: Version, session: SessionDep, _actor: ActorDep) -> FormDiff:
    """Fields added, removed and changed from version a to version b."""
    before, after = await _form_row(session, key, a), await _form_row(session, key, b)
    return diff_forms(key, before.schema, after.schema, versions=(a, b))


@router.post("/forms/generate", response_model=GeneratedForm, response_model_by_alias=True)
async def generate(body: GenerateFormRequest, _actor: Publisher) -> GeneratedForm:
    """Draft a form from one sentence; nothing is published."""
    try:
        schema = await generate_form_in_thread(body.text, title=body.title)
    except GenerationRejected as exc:
        raise ProblemError(
            422, "no form can be drafted from this text", problems=exc.problems
        ) from exc
    drafted = form_layout(schema)
    return GeneratedForm(
        json_schema=schema,
        layout=drafted,
        review=[f.pointer for f in drafted.fields if f.review],
    )


@router.post("/forms/validate", response_model=ValidationReport)
async def validate_form(body: CheckFormRequest, _actor: ActorDep) -> ValidationReport:
    """Check a form schema as publishing would; lists every problem, publishes nothing."""
    problems = await schema_problems_in_thread(body.schema_, at="/schema")
    return ValidationReport(valid=not problems, errors=problems)


def _form(row: FormRow) -> FormDetail:
    return FormDetail(
        key=row.key,
        version=row.version,
        title=row.title,
        json_schema=row.schema,
        published_at=row.published_at,
        published_by=row.published_by,
    )


@router.post(
    "/forms",
    status_code=status.HTTP_201_CREATED,
    response_model=FormDetail,
    response_model_by_alias=True,
)
async def create_form(
    body: PublishFormRequest, session: SessionDep, actor: Publisher, access: AccessDep
) -> FormDetail:
    """Publish a form (JSON Schema 2020-12) as the next version of its key."""
    require_direct_publishing(access, actor)
    try:
        row = await publish_form(
            session=session,
            key=body.key,
            title=body.title,
            schema=body.schema_,
            published_by=actor.user,
        )
    except Rejected as exc:
        raise ProblemError(422, "the form schema is not valid", problems=exc.problems) from exc
    await session.commit()
    return _form(row)


@router.get("/forms", response_model=list[FormSummary])
async def list_forms(session: SessionDep, _actor: ActorDep) -> list[FormSummary]:
    """Every published form version."""
    return [
        FormSummary.model_validate(r, from_attributes=True)
        for r in await store.list_forms(session=session)
    ]


@router.get("/forms/{key}", response_model=FormDetail, response_model_by_alias=True)
async def latest_form(key: str, session: SessionDep, _actor: ActorDep) -> FormDetail:
    """The latest version of a form."""
    row = await store.get_form(session=session, key=key)
    if row is None:
        raise ProblemError(404, f"no form {key}")
    return _form(row)


@router.get(
    "/forms/{key}/versions/{version}",
    response_model=FormDetail,
    response_model_by_alias=True,
)
async def form_version(
    key: str, version: Version, session: SessionDep, _actor: ActorDep
) -> FormDetail:
    """One version of a form."""
    row = await store.get_form(session=session, key=key, version=version)
    if row is None:
        raise ProblemError(404, f"no form {key}@{version}")
    return _form(row)
