"""Published definitions and forms: immutable versions, numbered per key."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.definitions import ProcessDefinition
from store.models import DefinitionRow, FormRow


async def next_definition_version(*, session: AsyncSession, key: str) -> int:
    """The number the next published version of this definition gets."""
    current = await session.scalar(
        select(func.max(DefinitionRow.version)).where(DefinitionRow.key == key)
    )
    return (current or 0) + 1


async def insert_definition(
    *, session: AsyncSession, definition: ProcessDefinition, published_by: str, now: datetime
) -> DefinitionRow:
    """Store a resolved definition whose version is already assigned."""
    row = DefinitionRow(
        key=definition.key,
        version=definition.version,
        title=definition.title,
        department=definition.department,
        key_prefix=definition.key_prefix,
        document=definition.model_dump(mode="json"),
        published_at=now,
        published_by=published_by,
    )
    session.add(row)
    await session.flush()
    return row


async def get_definition(
    *, session: AsyncSession, key: str, version: int | None = None
) -> DefinitionRow | None:
    """A definition version, or the latest one when no version is given."""
    query = select(DefinitionRow).where(DefinitionRow.key == key)
    if version is not None:
        query = query.where(DefinitionRow.version == version)
    return await session.scalar(query.order_by(DefinitionRow.version.desc()).limit(1))


async def published_definition(
    *, session: AsyncSession, key: str, version: int | None = None
) -> ProcessDefinition | None:
    """A published definition (the latest without a version), or None if there is none."""
    row = await get_definition(session=session, key=key, version=version)
    return None if row is None else ProcessDefinition.model_validate(row.document)


async def list_definitions(*, session: AsyncSession, key: str | None = None) -> list[DefinitionRow]:
    """Every version of every definition (or of one key), newest version first per key."""
    query = select(DefinitionRow)
    if key is not None:
        query = query.where(DefinitionRow.key == key)
    return list(
        (
            await session.scalars(query.order_by(DefinitionRow.key, DefinitionRow.version.desc()))
        ).all()
    )


async def next_form_version(*, session: AsyncSession, key: str) -> int:
    """The number the next published version of this form gets."""
    current = await session.scalar(select(func.max(FormRow.version)).where(FormRow.key == key))
    return (current or 0) + 1


async def insert_form(
    *,
    session: AsyncSession,
    key: str,
    version: int,
    title: str,
    schema: dict[str, Any],
    published_by: str,
    now: datetime,
) -> FormRow:
    """Store a validated form version."""
    row = FormRow(
        key=key,
        version=version,
        title=title,
        schema=schema,
        published_at=now,
        published_by=published_by,
    )
    session.add(row)
    await session.flush()
    return row


async def get_form(
    *, session: AsyncSession, key: str, version: int | None = None
) -> FormRow | None:
    """A form version, or the latest one when no version is given."""
    query = select(FormRow).where(FormRow.key == key)
    if version is not None:
        query = query.where(FormRow.version == version)
    return await session.scalar(query.order_by(FormRow.version.desc()).limit(1))


async def list_forms(*, session: AsyncSession) -> list[FormRow]:
    """Every form version, newest version first per key."""
    return list(
        (await session.scalars(select(FormRow).order_by(FormRow.key, FormRow.version.desc()))).all()
    )
