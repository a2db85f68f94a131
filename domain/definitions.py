"""Process definitions as data: stages of several kinds forming a DAG, with gateways on edges."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from domain.calendars import BusinessCalendar
from domain.care import CareSettings
from domain.deliverables import DeliverableSpec
from domain.problems import Problem, pointer
from domain.sla import SlaPolicy
from domain.triage_settings import TriageSettings

KEY_PATTERN = r"^[a-z][a-z0-9_-]{0,62}$"
FORM_REF_PATTERN = r"^[a-z][a-z0-9_-]{0,62}@[1-9][0-9]*$"

JsonSchema = dict[str, Any]
ACTION_PATTERN = r"^[a-z][a-z0-9_]{0,30}(\.[a-z][a-z0-9_]{0,30}){1,3}$"
SIGNAL_PATTERN = r"^[a-z][a-z0-9_-]{0,62}$"
DEFINITION_REF_PATTERN = r"^[a-z][a-z0-9_-]{0,62}(@[1-9][0-9]*)?$"
# A CEL expression: bounded in length here, in nesting and cost by domain.expressions.
Expression = str
EXPRESSION_MAX_LENGTH = 2000

StageKind = Literal["task", "service", "wait", "timer", "subprocess"]


class RetrySpec(BaseModel):
    """How a service stage's action is retried before a person is asked to fix or skip it."""

    model_config = ConfigDict(extra="forbid")

    maximum_attempts: int = Field(default=3, ge=1, le=20)
    initial_interval: timedelta = Field(default=timedelta(seconds=1))
    backoff_coefficient: float = Field(default=2.0, ge=1.0, le=10.0)
    maximum_interval: timedelta = Field(default=timedelta(minutes=5))


class ServiceSpec(BaseModel):
    """A `service` stage: a registered action run as an activity with these parameters.

    A string parameter starting with `=` is an expression over the ticket (the Camunda
    convention), evaluated when the stage starts; every other value is taken as written.
    """

    model_config = ConfigDict(extra="forbid")

    action: str = Field(pattern=ACTION_PATTERN, description="e.g. http.request")
    params: dict[str, Any] = Field(default_factory=dict)
    timeout: timedelta = Field(default=timedelta(seconds=30), description="Per attempt.")
    retry: RetrySpec = Field(default_factory=RetrySpec)


class WaitSpec(BaseModel):
    """A `wait` stage: done when the named signal arrives and its correlation holds."""

    model_config = ConfigDict(extra="forbid")

    signal: str = Field(pattern=SIGNAL_PATTERN)
    correlation: Expression | None = Field(
        default=None,
        max_length=EXPRESSION_MAX_LENGTH,
        description="Must be true of the signal; `signal` is its payload.",
    )
    timeout: timedelta | None = Field(default=None, description="Business time on `calendar`.")
    calendar: str | None = Field(default=None, max_length=80)
    on_timeout: str | None = Field(
        default=None, description="The stage taken instead of the others when the wait times out."
    )


class TimerSpec(BaseModel):
    """A `timer` stage: done after a duration (business time on a calendar) or at a date."""

    model_config = ConfigDict(extra="forbid")

    duration: timedelta | None = None
    calendar: str | None = Field(
        default=None, max_length=80, description="`key@version`; without it, calendar time."
    )
    until: Expression | None = Field(
        default=None,
        max_length=EXPRESSION_MAX_LENGTH,
        description="An expression giving the instant, e.g. `timestamp(intake.visit_at)`.",
    )


class SubprocessSpec(BaseModel):
    """A `subprocess` stage: a child ticket of another published definition."""

    model_config = ConfigDict(extra="forbid")

    definition: str = Field(
        pattern=DEFINITION_REF_PATTERN, description="`key` (pinned to its latest at publish)."
    )
    intake: dict[str, Expression] = Field(
        default_factory=dict, description="Child intake field -> expression over this ticket."
    )


class Branch(BaseModel):
    """One outgoing path of a gateway: taken when its condition holds."""

    model_config = ConfigDict(extra="forbid")

    to: str
    when: Expression = Field(min_length=1, max_length=EXPRESSION_MAX_LENGTH)


class Gateway(BaseModel):
    """Conditions on a stage's outgoing paths, evaluated when the stage is done.

    `exclusive`: the first branch whose condition holds, else `default`.
    `inclusive`: every branch whose condition holds, else `default`.
    """

    model_config = ConfigDict(extra="forbid")

    type: Literal["exclusive", "inclusive"]
    branches: list[Branch] = Field(min_length=1, max_length=50)
    default: str | None = None


class StageDefinition(BaseModel):
    """One step of a process: a human task, an automated action, a wait, a timer or a child."""

    model_config = ConfigDict(extra="forbid")

    key: str = Field(pattern=KEY_PATTERN)
    title: str = Field(min_length=1, max_length=200)
    group: str = Field(min_length=1, max_length=100, description="Candidate department or group.")
    depends_on: list[str] = Field(default_factory=list)
    form: JsonSchema | None = Field(default=None, description="Inline JSON Schema for completion.")
    form_ref: str | None = Field(default=None, pattern=FORM_REF_PATTERN)
    sla: SlaPolicy | None = None
    milestone: bool = Field(default=False, description="The requester sees its due date.")
    kind: StageKind = "task"
    service: ServiceSpec | None = None
    wait: WaitSpec | None = None
    timer: TimerSpec | None = None
    subprocess: SubprocessSpec | None = None
    gateway: Gateway | None = Field(
        default=None, description="Conditional paths out of this stage, decided when it is done."
    )
    deliverables: list[DeliverableSpec] = Field(
        default_factory=list,
        max_length=50,
        description="What a task stage hands over; completion waits until its contract is met.",
    )
    snapshot_on_claim: bool = Field(
        default=False,
        description="Each claim of this task stage reads the device the intake names, as evidence.",
    )


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
    care: CareSettings | None = Field(
        default=None, description="After-sales care for the customer of each closed ticket."
    )
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
    """List every structural problem: form sources, duplicate keys, unknown deps, cycles.

    Cycles run over every kind of edge: dependencies, gateway branches and wait timeouts.
    """
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
    # Every kind of edge, as successors: dependencies, gateway branches, a wait's timeout path.
    graph: dict[str, list[str]] = {s.key: [] for s in definition.stages}
    for stage in definition.stages:
        # Stages sharing a key (already reported) pool their edges so no cycle hides behind one.
        for dep in stage.depends_on:
            if dep in seen and dep != stage.key:
                graph[dep].append(stage.key)
        graph[stage.key].extend(t for t in outgoing_targets(stage) if t in seen and t != stage.key)
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
        # Reported at the stage the cycle re-enters; the path reads in the direction work flows.
        problems.append(
            Problem(
                pointer=pointer("stages", seen[cycle[0]]),
                detail="cycle: " + " -> ".join([*cycle, cycle[0]]),
            )
        )
    return problems


def outgoing_targets(stage: StageDefinition) -> list[str]:
    """The stages a stage's gateway and wait timeout lead to (its conditional edges)."""
    targets: list[str] = []
    if stage.gateway is not None:
        targets += [b.to for b in stage.gateway.branches]
        if stage.gateway.default is not None:
            targets.append(stage.gateway.default)
    if stage.wait is not None and stage.wait.on_timeout is not None:
        targets.append(stage.wait.on_timeout)
    return targets


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
