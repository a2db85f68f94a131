"""Instantiating a library template: publish its intake form, then its definition."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from domain.problems import Rejected
from domain.ticket import Actor
from forms.library import Template, definition_document
from services.publishing import publish_definition, publish_form, require_key_owner
from store.models import DefinitionRow, FormRow


async def publish_template(
    *,
    session: AsyncSession,
    template: Template,
    key: str,
    title: str,
    key_prefix: str | None,
    publisher: Actor,
) -> tuple[FormRow, DefinitionRow]:
    """Publish the template's form and definition under `key`; the caller commits both or none.

    An existing `key` must belong to the publisher's department (NotOwner), checked before the
    form is written.
    """
    await require_key_owner(
        session=session,
        key=key,
        department=str(template.definition.get("department", "")),
        publisher=publisher,
        department_at="/template",
    )
    published_by = publisher.user
    form = await publish_form(
        session=session,
        key=key,
        title=str(template.form.get("title", title)),
        schema=template.form,
        published_by=published_by,
    )
    document = definition_document(
        template, key=key, title=title, key_prefix=key_prefix, form_ref=f"{key}@{form.version}"
    )
    try:
        definition = await publish_definition(
            session=session, document=document, published_by=published_by, publisher=publisher
        )
    except Rejected as exc:
        raise Rejected(
            [p.model_copy(update={"pointer": "/definition" + p.pointer}) for p in exc.problems]
        ) from exc
    return form, definition
