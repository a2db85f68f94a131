"""The publish checks of the process language that read published data or schemas.

Action parameters against their JSON Schemas, the calendars timers and waits count on (pinned
and carried inline like SLA calendars), and the definitions subprocesses start (pinned to their
latest version, refused when they would recurse or nest too deep). The pure checks are
domain.process_checks'.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

import anyio
from jsonschema import Draft202012Validator, validators
from sqlalchemy.ext.asyncio import AsyncSession

from domain.actions import BUILTIN_ACTIONS, ActionSpec
from domain.definitions import ProcessDefinition
from domain.problems import Problem, pointer
from domain.process_checks import PublishRules, process_problems, schema_fields
from services.sla_publishing import resolve_calendar
from store import definitions as store
from ticketflow.settings import Settings

Keyword = Callable[[Any, Any, Any, Any], Iterator[Any] | None]


def publish_rules(
    settings: Settings, actions: Mapping[str, ActionSpec] = BUILTIN_ACTIONS
) -> PublishRules:
    """The rules a deployment publishes under: its actions and its HTTP allow-list."""
    return PublishRules(
        actions=dict(actions), http_allowed_hosts=tuple(settings.http_allowed_hosts)
    )


def _expression_passes(keyword: Keyword) -> Keyword:
    def check(validator: Any, value: Any, instance: Any, schema: Any) -> Iterator[Any]:
        # An `=expression` stands for a value computed when the stage starts: it is checked as
        # an expression (domain.process_checks), not against the type it will have.
        if isinstance(instance, str) and instance.startswith("="):
            return
        yield from keyword(validator, value, instance, schema) or ()

    return check


ParamsValidator = validators.extend(  # type: ignore[no-untyped-call]  # jsonschema: untyped
    Draft202012Validator,
    {name: _expression_passes(fn) for name, fn in Draft202012Validator.VALIDATORS.items()},
)


_VALIDATORS: dict[str, tuple[ActionSpec, Any]] = {}


def _params_validator(spec: ActionSpec) -> Any:
    """One compiled validator per action spec, kept for the next publish."""
    cached = _VALIDATORS.get(spec.name)
    if cached is None or cached[0] is not spec:
        cached = _VALIDATORS[spec.name] = (spec, ParamsValidator(spec.params_schema))
    return cached[1]


def params_problems(definition: ProcessDefinition, rules: PublishRules) -> list[Problem]:
    """Each service stage's parameters against its action's params_schema."""
    problems = []
    for i, stage in enumerate(definition.stages):
        spec = rules.actions.get(stage.service.action) if stage.service else None
        if stage.service is None or spec is None:
            continue  # unknown actions are reported by the pure checks
        at = pointer("stages", i, "service", "params")
        for error in _params_validator(spec).iter_errors(stage.service.params):
            problems.append(
                Problem(pointer=at + pointer(*error.absolute_path), detail=error.message)
            )
    return problems


async def _stage_calendars(session: AsyncSession, definition: ProcessDefinition) -> list[Problem]:
    """Pin the calendars of timers and waits to published versions, carried inline."""
    problems: list[Problem] = []
    for i, stage in enumerate(definition.stages):
        for spec, name in ((stage.timer, "timer"), (stage.wait, "wait")):
            if spec is None or spec.calendar is None:
                continue
            at = pointer("stages", i, name, "calendar")
            pinned = await resolve_calendar(session, spec.calendar, at, definition, problems)
            if pinned is not None:
                spec.calendar = pinned
    return problems


class _Published:
    """Published definitions by reference, each read once per publish."""

    def __init__(self, session: AsyncSession):
        self.session = session
        self.found: dict[str, ProcessDefinition | None] = {}
        self.depths: dict[str, tuple[int, list[str]]] = {}

    async def get(self, ref: str) -> ProcessDefinition | None:
        if ref not in self.found:
            key, _, version = ref.partition("@")
            row = await store.get_definition(
                session=self.session, key=key, version=int(version) if version else None
            )
            definition = None
            if row is not None:
                definition = ProcessDefinition.model_validate(row.document)
                definition.version = row.version
            self.found[ref] = definition
        return self.found[ref]

    async def deepest(self, definition: ProcessDefinition, limit: int) -> tuple[int, list[str]]:
        """The longest chain of subprocesses below a published definition, as refs."""
        ref = f"{definition.key}@{definition.version}"
        if ref in self.depths:
            return self.depths[ref]
        best: tuple[int, list[str]] = (0, [])
        if limit > 0:
            for stage in definition.stages:
                if stage.subprocess is None:
                    continue
                child = await self.get(stage.subprocess.definition)
                if child is None:
                    continue
                depth, chain = await self.deepest(child, limit - 1)
                if depth + 1 > best[0]:
                    best = (depth + 1, [f"{child.key}@{child.version}", *chain])
        self.depths[ref] = best
        return best

    async def path_to(
        self, definition: ProcessDefinition, key: str, limit: int
    ) -> list[str] | None:
        """A chain of subprocesses from `definition` to any version of `key`, or None."""
        for stage in definition.stages:
            if stage.subprocess is None or limit <= 0:
                continue
            child = await self.get(stage.subprocess.definition)
            if child is None:
                continue
            here = f"{child.key}@{child.version}"
            if child.key == key:
                return [here]
            below = await self.path_to(child, key, limit - 1)
            if below is not None:
                return [here, *below]
        return None


async def _subprocess_problems(
    session: AsyncSession, definition: ProcessDefinition, rules: PublishRules
) -> list[Problem]:
    """Pin each subprocess to a published version; refuse recursion and deep nesting."""
    problems = []
    published = _Published(session)
    limit = rules.max_subprocess_depth
    for i, stage in enumerate(definition.stages):
        if stage.subprocess is None:
            continue
        at = pointer("stages", i, "subprocess")
        ref = stage.subprocess.definition
        if ref.partition("@")[0] == definition.key:
            problems.append(
                Problem(pointer=at + "/definition", detail="a definition cannot start itself")
            )
            continue
        child = await published.get(ref)
        if child is None:
            problems.append(Problem(pointer=at + "/definition", detail=f"no published {ref}"))
            continue
        stage.subprocess.definition = pinned = f"{child.key}@{child.version}"
        back = await published.path_to(child, definition.key, limit)
        if back is not None:
            chain = " -> ".join([definition.key, pinned, *back])
            problems.append(Problem(pointer=at + "/definition", detail=f"recursion: {chain}"))
            continue
        depth, chain_below = await published.deepest(child, limit)
        if depth + 1 > limit:
            chain = " -> ".join([definition.key, pinned, *chain_below])
            problems.append(
                Problem(
                    pointer=at + "/definition",
                    detail=f"subprocesses nest {depth + 1} deep ({chain}); at most {limit}",
                )
            )
        problems += _child_intake_problems(stage.subprocess.intake, child, at)
    return problems


def _child_intake_problems(
    intake: dict[str, str], child: ProcessDefinition, at: str
) -> list[Problem]:
    """The mapped intake against the child's intake form: known fields, required ones given."""
    problems = []
    declared = schema_fields(child.intake_form)
    if declared is not None:
        for name in intake:
            if name not in declared:
                problems.append(
                    Problem(
                        pointer=at + pointer("intake", name),
                        detail=f"{child.key}'s intake form has no field {name!r}",
                    )
                )
    required = (child.intake_form or {}).get("required", [])
    missing = [name for name in required if name not in intake]
    if missing:
        problems.append(
            Problem(
                pointer=at + "/intake",
                detail=f"{child.key}'s intake form requires {', '.join(map(repr, missing))}",
            )
        )
    return problems


def _pure_problems(definition: ProcessDefinition, rules: PublishRules) -> list[Problem]:
    return process_problems(definition, rules) + params_problems(definition, rules)


async def check_process(
    *, session: AsyncSession, definition: ProcessDefinition, rules: PublishRules
) -> list[Problem]:
    """Every process-language problem of a definition whose forms are resolved inline.

    Pins what it resolves: timer and wait calendars, subprocess definitions.
    """
    # Pure but CPU-bound (parsing every expression): off the event loop.
    problems = await anyio.to_thread.run_sync(_pure_problems, definition, rules)
    problems += await _stage_calendars(session, definition)
    problems += await _subprocess_problems(session, definition, rules)
    return problems
