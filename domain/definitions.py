"""Process definitions as data: stages forming a DAG, each with a candidate group and a form."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from domain.calendars import BusinessCalendar
from domain.problems import Problem, pointer
from domain.sla import SlaPolicy
from domain.triage_settings import TriageSettings

KEY_PATTERN = r"^[a-z][a-z0-9_-]{0,62}$"
FORM_REF_PATTERN = r"^[a-z][a-z0-9_-]{0,62}@[1-9][0-9]*$"

JsonSchema = dict[str, Any]


class StageDefinition(BaseModel):
    """One step of a process: a human task for a group, done when its form is satisfied."""

    model_config = ConfigDict(extra="forbid")

    key: str = Field(pattern=KEY_PATTERN)
    title: str = Field(min_length=1, max_length=200)
    group: str = Field(min_length=1, max_length=100, description="Candidate department or group.")
    depends_on: list[str] = Field(default_factory=list)
    form: JsonSchema | None = Field(default=None, description="Inline JSON Schema for completion.")
    form_ref: str | None = Field(default=None, pattern=FORM_REF_PATTERN)
    sla: SlaPolicy | None = None
    milestone: bool = Field(default=False, description="The requester sees its due date.")


class ConfirmationPolicy(BaseModel):
    """How a resolved ticket becomes closed: requester confirmation, or silence until a timeout."""

    model_config = ConfigDict(extra="forbid")

    timeout_hours: float = Field(default=72.0, ge=0, le=24 * 365)


class ProcessDefinition(BaseModel):
    """A versioned process: intake form plus a DAG of stages."""

    model_config = ConfigDict(extra="forbid")

    key: str = Field(pattern=KEY_PATTERN)
    version: int = Field(default=0, ge=0, description="Assigned on publish; 0 in a draft.")
    title: str = Field(min_length=1, max_length=200)
    description: str = ""
    key_prefix: str = Field(pattern=r"^[A-Z][A-Z0-9]{0,9}$", description="Ticket key prefix.")
    department: str = Field(min_length=1, max_length=100, description="Owning department.")
    intake_form: JsonSchema | None = None
    intake_form_ref: str | None = Field(default=None, pattern=FORM_REF_PATTERN)
    stages: list[StageDefinition] = Field(min_length=1, max_length=100)
    confirmation: ConfirmationPolicy = Field(default_factory=ConfirmationPolicy)
    sla: SlaPolicy | None = Field(default=None, description="The joint clock of the whole ticket.")
    calendars: dict[str, BusinessCalendar] = Field(
        default_factory=dict, description="Filled on publish: the calendars the SLAs count on."
    )
    triage: TriageSettings | None = None
    template: str | None = Field(
        default=None, pattern=KEY_PATTERN, description="Set by from-template: its library template."
    )

    def stage(self, key: str) -> StageDefinition:
        """Return the stage with this key."""
        for s in self.stages:
            if s.key == key:
                return s
        raise KeyError(key)


def structural_problems(definition: ProcessDefinition) -> list[Problem]:
    """List every structural problem: form sources, duplicate keys, unknown deps, cycles."""
    problems: list[Problem] = []
    if (definition.intake_form is None) == (definition.intake_form_ref is None):
        problems.append(
            Problem(
                pointer=pointer("intake_form"),
                detail="give exactly one of intake_form and intake_form_ref",
            )
        )
    seen: dict[str, int] = {}
    for i, stage in enumerate(definition.stages):
        if stage.key in seen:
            problems.append(
                Problem(
                    pointer=pointer("stages", i, "key"),
                    detail=f"duplicate stage key {stage.key!r} "
                    f"(first at /stages/{seen[stage.key]})",
                )
            )
        else:
            seen[stage.key] = i
        if stage.form is not None and stage.form_ref is not None:
            problems.append(
                Problem(
                    pointer=pointer("stages", i, "form"), detail="give form or form_ref, not both"
                )
            )
    for i, stage in enumerate(definition.stages):
        for j, dep in enumerate(stage.depends_on):
            if dep == stage.key:
                problems.append(
                    Problem(
                        pointer=pointer("stages", i, "depends_on", j),
                        detail="a stage cannot depend on itself",
                    )
                )
            elif dep not in seen:
                problems.append(
                    Problem(
                        pointer=pointer("stages", i, "depends_on", j),
                        detail=f"unknown stage {dep!r}",
                    )
                )
    graph: dict[str, list[str]] = {}
    for stage in definition.stages:
        # Stages sharing a key (already reported) pool their edges so no cycle hides behind one.
        graph.setdefault(stage.key, []).extend(
            d for d in stage.depends_on if d in seen and d != stage.key
        )
    if definition.triage is not None:
        for i, key in enumerate(definition.triage.routed_stages):
            if key not in seen:
                problems.append(
                    Problem(
                        pointer=pointer("triage", "routed_stages", i),
                        detail=f"unknown stage {key!r}",
                    )
                )
    cycle = find_cycle(graph)
    if cycle:
        problems.append(
            Problem(
                pointer=pointer("stages", seen[cycle[0]], "depends_on"),
                detail="dependency cycle: " + " -> ".join([*cycle, cycle[0]]),
            )
        )
    return problems


def find_cycle(graph: dict[str, list[str]]) -> list[str]:
    """Return one cycle of a dependency graph as a list of nodes, or [] when it is acyclic."""
    white, grey, black = 0, 1, 2
    colour = dict.fromkeys(graph, white)
    stack: list[str] = []

    def visit(node: str) -> list[str]:
        colour[node] = grey
        stack.append(node)
        for nxt in graph.get(node, []):
            if colour.get(nxt) == grey:
                return stack[stack.index(nxt) :]
            if colour.get(nxt) == white:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        colour[node] = black
        return []

    for node in graph:
        if colour[node] == white:
            found = visit(node)
            if found:
                return found
    return []


def descendants(definition: ProcessDefinition, roots: list[str]) -> list[str]:
    """Return the given stages plus every stage that depends on them, in definition order."""
    marked = set(roots)
    changed = True
    while changed:
        changed = False
        for s in definition.stages:
            if s.key not in marked and marked.intersection(s.depends_on):
                marked.add(s.key)
                changed = True
    return [s.key for s in definition.stages if s.key in marked]


def final_stages(definition: ProcessDefinition) -> list[str]:
    """Return the stages nothing depends on (the ends of the DAG)."""
    depended = {d for s in definition.stages for d in s.depends_on}
    return [s.key for s in definition.stages if s.key not in depended]
