"""The template library: list templates, instantiate one as a published definition."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, status
from pydantic import BaseModel, Field

from api.deps import AccessDep, ActorDep, SessionDep, require_roles
from api.problems import ProblemError
from api.sandbox import require_approved_template, require_definable_fields, template_approved
from api.schemas import DefinitionDetail, FormSummary, Strict
from domain.definitions import KEY_PATTERN
from domain.problems import Problem, Rejected
from domain.ticket import Actor
from forms.library import Template, bundled_templates, find_template
from policies.authorization import PUBLISH
from services.publishing import NotOwner
from services.template_publishing import publish_template

router = APIRouter(tags=["templates"])
Publisher = Annotated[Actor, Depends(require_roles(*PUBLISH))]


class TemplateSummary(BaseModel):
    """A template in the library."""

    key: str
    title: str
    description: str
    departments: list[str]
    approved: bool = Field(description="Whether the caller's department may publish it.")


class FromTemplateRequest(Strict):
    """Which template to instantiate, and the key, title and ticket prefix to give it."""

    template: str = Field(pattern=KEY_PATTERN)
    key: str | None = Field(default=None, pattern=KEY_PATTERN)
    title: str | None = Field(default=None, min_length=1, max_length=200)
    key_prefix: str | None = Field(default=None, pattern=r"^[A-Z][A-Z0-9]{0,9}$")


class FromTemplateResult(BaseModel):
    """The form and definition the template was published as."""

    form: FormSummary
    definition: DefinitionDetail


def _template(key: str) -> Template:
    template = find_template(key)
    if template is None:
        raise ProblemError(404, f"no template {key}")
    return template


@router.get("/templates", response_model=list[TemplateSummary])
async def list_templates(
    actor: ActorDep,
    department: Annotated[str | None, Query(max_length=100)] = None,
) -> list[TemplateSummary]:
    """Every template, or those approved for one department; flagged if the caller may use it."""
    return [
        TemplateSummary(**t.model_dump(), approved=template_approved(actor, t))
        for t in bundled_templates(department=department)
    ]


@router.get("/templates/{key}", response_model=Template)
async def get_template(key: str, _actor: ActorDep) -> Template:
    """One template with its form and definition."""
    return _template(key)


@router.post(
    "/definitions/from-template",
    status_code=status.HTTP_201_CREATED,
    response_model=FromTemplateResult,
)
async def from_template(
    body: FromTemplateRequest, session: SessionDep, actor: Publisher, access: AccessDep
) -> FromTemplateResult:
    """Publish a template approved for the caller's department (as the next versions of `key`)."""
    template = find_template(body.template)
    if template is None:
        detail = f"no template {body.template}"
        raise ProblemError(422, detail, problems=[Problem(pointer="/template", detail=detail)])
    require_approved_template(actor, template)
    # Before anything is written, like a direct publish: the fields the template defines.
    require_definable_fields(access, actor, {**template.definition, "intake_form": template.form})
    try:
        form, definition = await publish_template(
            session=session,
            template=template,
            key=body.key or template.key,
            title=body.title or template.title,
            key_prefix=body.key_prefix,
            publisher=actor,
        )
    except NotOwner as exc:
        raise ProblemError(403, exc.problem.detail, problems=[exc.problem]) from exc
    except Rejected as exc:
        raise ProblemError(422, "the template cannot be published", problems=exc.problems) from exc
    await session.commit()
    return FromTemplateResult(
        form=FormSummary.model_validate(form, from_attributes=True),
        definition=DefinitionDetail.model_validate(definition, from_attributes=True),
    )
