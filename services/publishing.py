"""Checking and publishing process definitions and forms (shared by the API and the CLI)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from domain.definitions import ProcessDefinition, structural_problems
from domain.problems import Problem, Rejected, pointer
from domain.process_checks import PublishRules
from domain.ticket import Actor
from forms.validation import schema_problems_in_thread
from policies.roles import ADMIN
from services.bundled import bundled_definitions
from store import definitions as store
from store.db import make_async_engine, make_sessionmaker
from store.models import DefinitionRow, FormRow
from ticketflow.settings import Settings

R = TypeVar("R")
# Every round of publishers colliding on one version number lets at least one of them in, so
# this many attempts serve that many concurrent publishes of one key.
PUBLISH_ATTEMPTS = 20


class PublishContention(Exception):
    """Concurrent publishes of one key kept taking the next version number (a 503: retry)."""


class NotOwner(Exception):
    """The publisher may not publish the next version of this key (a 403, not a 422)."""

    def __init__(self, problem: Problem):
        super().__init__(problem.detail)
        self.problem = problem


async def require_key_owner(
    *,
    session: AsyncSession,
    key: str,
    department: str,
    publisher: Actor | None,
    department_at: str = "/department",
) -> None:
    """Once a definition key exists, its department's process owners (or admins) own it.

    The department is that of the key's latest version, the publisher's that of their account;
    a next version keeps the department unless an admin moves it. `publisher` None is the CLI
    and the bundled loader, which act with the database's own credentials. `department_at`
    points at where the department came from (a template's, for a from-template publish).
    """
    if publisher is None or publisher.role == ADMIN:
        return
    latest = await store.get_definition(session=session, key=key)
    if latest is None:
        return
    if publisher.department != latest.department:
        raise NotOwner(
            Problem(
                pointer="/key",
                detail=f"definition {key!r} belongs to department {latest.department!r}: only"
                " its process owners or an admin publish its next version",
            )
        )
    if department != latest.department:
        raise NotOwner(
            Problem(
                pointer=department_at,
                detail=f"definition {key!r} belongs to department {latest.department!r}: only"
                f" an admin moves it to {department!r}",
            )
        )


def read_document(*, path: Path) -> object:
    """Read a YAML or JSON document from a file; unreadable or unparsable files are Rejected."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise Rejected([Problem(pointer="", detail=f"cannot read {path}: {exc.strerror}")]) from exc
    return parse_text(text=text, json_only=path.suffix == ".json")


def _not_json(constant: str) -> object:
    raise json.JSONDecodeError(f"{constant} is not a JSON number", constant, 0)


def parse_text(*, text: str, json_only: bool = False) -> object:
    """Parse JSON or YAML text; syntax errors are Rejected with their line."""
    try:
        return json.loads(text, parse_constant=_not_json) if json_only else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise Rejected(
            [Problem(pointer="", detail=f"not valid {'JSON' if json_only else 'YAML'}: {exc}")]
        ) from exc


def model_problems(*, exc: ValidationError, at: str = "") -> list[Problem]:
    """Turn pydantic's errors into located problems."""
    return [Problem(pointer=at + pointer(*e["loc"]), detail=e["msg"]) for e in exc.errors()]


def _parse(model: type[BaseModel], document: object) -> Any:
    try:
        return model.model_validate(document)
    except ValidationError as exc:
        raise Rejected(model_problems(exc=exc)) from exc


async def _resolve_form(
    session: AsyncSession, ref: str, at: str, problems: list[Problem]
) -> dict[str, Any] | None:
    key, version = ref.split("@")
    row = await store.get_form(session=session, key=key, version=int(version))
    if row is None:
        problems.append(Problem(pointer=at, detail=f"unknown form {ref}"))
        return None
    return row.schema


async def check_definition(
    *, session: AsyncSession, document: object, rules: PublishRules | None = None
) -> ProcessDefinition:
    """Validate a definition completely and return it with every form resolved inline.

    Raises Rejected listing every problem: shape, duplicate keys, unknown dependencies,
    cycles, unknown form references, invalid JSON Schemas, SLA policies, the care strategy it
    opts into (pinned inline) and every check of the
    process language (services.process_publishing) under `rules` (by default the built-in
    actions and no HTTP host).
    """
    definition: ProcessDefinition = _parse(ProcessDefinition, document)
    problems = structural_problems(definition)
    if definition.intake_form is not None:
        problems += await schema_problems_in_thread(definition.intake_form, at="/intake_form")
    elif definition.intake_form_ref is not None:
        definition.intake_form = await _resolve_form(
            session, definition.intake_form_ref, "/intake_form_ref", problems
        )
    for i, stage in enumerate(definition.stages):
        if stage.form is not None:
            problems += await schema_problems_in_thread(stage.form, at=pointer("stages", i, "form"))
        elif stage.form_ref is not None:
            stage.form = await _resolve_form(
                session, stage.form_ref, pointer("stages", i, "form_ref"), problems
            )
        for j, spec in enumerate(stage.deliverables):
            if spec.kind == "record" and spec.schema_ is not None:
                # A record is checked against its schema at attachment, like a form's data.
                at = pointer("stages", i, "deliverables", j, "schema")
                problems += await schema_problems_in_thread(spec.schema_, at=at)
    problems += await check_sla(session=session, definition=definition)
    problems += await check_care(session=session, definition=definition)
    problems += await check_process(
        session=session, definition=definition, rules=rules or PublishRules()
    )
    if problems:
        raise Rejected(problems)
    return definition


async def check_process(
    *, session: AsyncSession, definition: ProcessDefinition, rules: PublishRules
) -> list[Problem]:
    """Stage kinds, actions, paths and expressions (services.process_publishing; late: it uses
    sla_publishing, which uses us)."""
    from services import process_publishing

    return await process_publishing.check_process(
        session=session, definition=definition, rules=rules
    )


async def check_care(*, session: AsyncSession, definition: ProcessDefinition) -> list[Problem]:
    """The care strategy a definition opts into, pinned inline (services.care; late: it uses
    us)."""
    from services import care

    return await care.pin_definition_care(session=session, definition=definition)


async def check_sla(*, session: AsyncSession, definition: ProcessDefinition) -> list[Problem]:
    """SLA policies and their calendars (services.sla_publishing; imported late: it uses us)."""
    from services import sla_publishing

    return await sla_publishing.check_sla(session=session, definition=definition)


async def publish_definition(
    *,
    session: AsyncSession,
    document: object,
    published_by: str,
    publisher: Actor | None,
    rules: PublishRules | None = None,
) -> DefinitionRow:
    """Check a definition and store it as the next version of its key (immutable).

    `publisher` is the API caller, who must own an existing key (require_key_owner); None for
    the CLI and the bundled loader.
    """
    definition = await check_definition(session=session, document=document, rules=rules)

    async def insert(version: int) -> DefinitionRow:
        # Checked again on every attempt: a concurrent first publish may have created the key.
        await require_key_owner(
            session=session,
            key=definition.key,
            department=definition.department,
            publisher=publisher,
        )
        definition.version = version
        return await store.insert_definition(
            session=session, definition=definition, published_by=published_by, now=datetime.now(UTC)
        )

    return await insert_next_version(
        session=session,
        next_version=lambda: store.next_definition_version(session=session, key=definition.key),
        insert=insert,
    )


async def insert_next_version(
    *,
    session: AsyncSession,
    next_version: Callable[[], Awaitable[int]],
    insert: Callable[[int], Awaitable[R]],
) -> R:
    """Insert under the next free version number, retrying when a concurrent publish took it."""
    for _ in range(PUBLISH_ATTEMPTS):
        version = await next_version()
        try:
            async with session.begin_nested():
                return await insert(version)
        except IntegrityError:
            continue  # another publisher took this version number; take the next one
    raise PublishContention("too many concurrent publishes of this key")


async def publish_form(
    *, session: AsyncSession, key: str, title: str, schema: object, published_by: str
) -> FormRow:
    """Check a form schema and store it as the next version of its key."""
    problems = await schema_problems_in_thread(schema, at="/schema")
    if problems or not isinstance(schema, dict):
        raise Rejected(problems)

    async def insert(version: int) -> FormRow:
        return await store.insert_form(
            session=session,
            key=key,
            version=version,
            title=title,
            schema=schema,
            published_by=published_by,
            now=datetime.now(UTC),
        )

    return await insert_next_version(
        session=session,
        next_version=lambda: store.next_form_version(session=session, key=key),
        insert=insert,
    )


def _same_content(row: DefinitionRow, definition: ProcessDefinition) -> bool:
    # Read back through the model, so fields added since the row was stored (with their
    # defaults) do not make an unchanged definition look new.
    stored = ProcessDefinition.model_validate(dict(row.document, version=0))
    return stored.model_dump(mode="json") == definition.model_copy(
        update={"version": 0}
    ).model_dump(mode="json")


async def load_bundled_definitions(*, settings: Settings) -> list[str]:
    """Publish each bundled example unless its latest version already has the same content."""
    from services.process_publishing import publish_rules

    rules = publish_rules(settings)
    engine = make_async_engine(settings.effective_database_url)
    loaded = []
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            for _name, document in bundled_definitions():
                definition = await check_definition(session=session, document=document, rules=rules)
                latest = await store.get_definition(session=session, key=definition.key)
                if latest is None or not _same_content(latest, definition):
                    latest = await publish_definition(
                        session=session,
                        document=document,
                        published_by="bundled",
                        publisher=None,
                        rules=rules,
                    )
                loaded.append(f"{latest.key}@{latest.version}")
    finally:
        await engine.dispose()
    return loaded
