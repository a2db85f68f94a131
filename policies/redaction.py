"""The one redaction function every exit uses, and the write check every change uses.

Form data is redacted at every depth: an object or array the caller may not read is dropped
(or masked, for a maskable scalar), and a readable one's children are each checked by their
own path (`contact.id_number`, `devices[].serial`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from policies.catalog import FieldCatalog, FieldSpec, ancestors, child_path, item_path
from policies.decisions import Decision

# Form data nested deeper than this is not shown at all: stored data went through the body
# limits, and an exit must not recurse without bound on whatever it finds.
MAX_DEPTH = 64
# A view's memo holds answers per path; paths come from data, so it is bounded.
_MAX_MEMO = 20_000
# What a caller sees of one form value: all of it, a masked rendering (scalars), or nothing.
_READ, _MASKED, _HIDDEN = 2, 1, 0
_Node = tuple[str, FieldSpec, int]


@dataclass
class FieldView:
    """What one caller may read, see masked and write on one ticket.

    Names are field paths; a nested field is readable (writable) only if every ancestor is.
    """

    decisions: tuple[Decision, ...]
    catalog: FieldCatalog
    role: str = ""
    # What the policy's objects are named after: `ticket.<field>`, or `customer.<field>`.
    kind: str = "ticket"
    _memo: dict[tuple[str, str, str], bool] = field(default_factory=dict, repr=False)
    _paths: dict[tuple[str, str, str], bool] = field(default_factory=dict, repr=False)
    _nodes: dict[tuple[str, str | None], tuple[FieldSpec | None, _Node]] = field(
        default_factory=dict, repr=False
    )
    _visible: bool | None = field(default=None, repr=False)
    # Answers other modules derive from this view alone (event shapes), kept with it.
    derived: dict[str, Any] = field(default_factory=dict, repr=False)

    def allows(self, path: str, act: str, spec: FieldSpec | None = None) -> bool:
        """The policy's answer for this one path alone (its ancestors not asked)."""
        sensitivity = (spec or self.catalog.spec(path)).sensitivity
        key = (path, act, sensitivity)
        answer = self._memo.get(key)
        if answer is None:
            # A ticket belongs to its department and every department with a task on it: a
            # field is granted if the policy grants it in any of them.
            obj = f"{self.kind}.{path}"
            answer = any(d.allows(obj, act, sensitivity) for d in self.decisions)
            if len(self._memo) >= _MAX_MEMO:
                self._memo.clear()
            self._memo[key] = answer
        return answer

    def _with_ancestors(self, name: str, own: str, above: str) -> bool:
        key = (name, own, above)
        answer = self._paths.get(key)
        if answer is None:
            answer = self.allows(name, own) and all(self.allows(a, above) for a in ancestors(name))
            if len(self._paths) >= _MAX_MEMO:
                self._paths.clear()
            self._paths[key] = answer
        return answer

    def node(self, base: str, parent: FieldSpec | None, key: str | None) -> _Node:
        """Path, spec and what the caller may see of property `key` (None: the items) of the
        value at `base`, whose spec is `parent`; the caller has read every ancestor."""
        hit = self._nodes.get((base, key))
        # Declared paths hand down the catalog's own spec objects, so identity finds them.
        if hit is not None and hit[0] is parent:
            return hit[1]
        catalog = self.catalog
        if key is None:
            path, spec = item_path(base), catalog.items_spec(base, parent or FieldSpec())
        else:
            path, spec = child_path(base, key), catalog.child_spec(base, parent, key)
        if self.allows(path, "read", spec):
            shown = _READ
        elif spec.maskable and self.allows(path, "read_masked", spec):
            shown = _MASKED
        else:
            shown = _HIDDEN
        found = (path, spec, shown)
        if len(self._nodes) >= _MAX_MEMO:
            self._nodes.clear()
        self._nodes[(base, key)] = (parent, found)
        return found

    def readable(self, name: str) -> bool:
        """Whether the caller sees this field in clear."""
        return self._with_ancestors(name, "read", "read")

    def masked(self, name: str) -> bool:
        """Whether the caller sees this field masked (not readable, maskable, read_masked)."""
        return (
            self.catalog.spec(name).maskable
            and not self.allows(name, "read")
            and self._with_ancestors(name, "read_masked", "read")
        )

    def writable(self, name: str) -> bool:
        """Whether the caller may write this field (and every object it is inside of)."""
        return self._with_ancestors(name, "write", "write")

    def visible(self) -> bool:
        """Whether the caller may see the ticket at all (some top-level field is readable)."""
        if self._visible is None:
            self._visible = any(self.readable(n) or self.masked(n) for n in self.catalog.top_level)
        return self._visible

    def all_readable(self, names: Iterable[str]) -> bool:
        """Whether every one of these fields is readable."""
        return all(self.readable(n) for n in names)


def mask(value: Any) -> str:
    """A masked rendering: first three and last four characters of long values (138****5678)."""
    text = value if isinstance(value, str) else str(value)
    if len(text) < 8:
        return "*" * len(text)
    return text[:3] + "*" * (len(text) - 7) + text[-4:]


_ABSENT: Any = object()


def _value(view: FieldView, node: _Node, value: Any, depth: int) -> Any:
    path, spec, shown = node
    if shown == _READ and depth <= MAX_DEPTH:
        if isinstance(value, Mapping):
            return _object(view, path, spec, value, depth + 1)
        if isinstance(value, list):
            items = view.node(path, spec, None)
            redacted = (_value(view, items, item, depth + 1) for item in value)
            return [item for item in redacted if item is not _ABSENT]
        return value
    # A masked object or list would show its shape and lengths: only scalars are masked.
    if shown == _MASKED and not isinstance(value, Mapping | list):
        return mask(value)
    return _ABSENT


def _object(
    view: FieldView, base: str, spec: FieldSpec | None, data: Mapping[str, Any], depth: int
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        shown = _value(view, view.node(base, spec, key), value, depth)
        if shown is not _ABSENT:
            out[key] = shown
    return out


def redact_form(data: Any, view: FieldView) -> dict[str, Any]:
    """Form data (an intake, a stage's completion) as this caller may see it, at every depth."""
    return _object(view, "", None, data, 0) if isinstance(data, Mapping) else {}


def _pointer_token(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def written_fields(data: Mapping[str, Any]) -> dict[str, str]:
    """Every field path a data document writes, each with the JSON pointer of its first place.

    Every object key at every depth counts, array items as `[]`: `{"devices": [{"serial": 1}]}`
    writes `devices` (`/devices`), `devices[]` (`/devices/0`) and `devices[].serial`
    (`/devices/0/serial`). Pointers are relative to the document.
    """
    found: dict[str, str] = {}
    stack: list[tuple[str, str, Any]] = [
        (key, "/" + _pointer_token(key), value) for key, value in reversed(list(data.items()))
    ]
    while stack:
        path, at, value = stack.pop()
        found.setdefault(path, at)
        if isinstance(value, Mapping):
            stack.extend(
                (child_path(path, k), f"{at}/{_pointer_token(k)}", v)
                for k, v in reversed(list(value.items()))
            )
        elif isinstance(value, list):
            items = list(enumerate(value))
            stack.extend((item_path(path), f"{at}/{i}", v) for i, v in reversed(items))
    return found


def field_pointer(name: str, written: Mapping[str, str] | None = None) -> str:
    """The JSON pointer (relative to the data) of a written field path.

    Taken from `written_fields` when given; else spelled from the path, items as `/-`.
    """
    if written is not None and name in written:
        return written[name]
    parts = name.replace("[]", ".-").split(".")
    return "".join("/" + _pointer_token(p) for p in parts if p)


def denied_writes(view: FieldView, fields: Iterable[str]) -> list[str]:
    """The field paths among these that the caller may not write, sorted."""
    return sorted({name for name in fields if not view.writable(name)})


KEEP = "*keep*"
FORM = "*form*"


@dataclass(frozen=True)
class Gate:
    """A value shown only if every field in `fields` is readable, and of `if_declared` those a
    form declares: free text copied from those fields."""

    fields: tuple[str, ...]
    if_declared: tuple[str, ...] = ()

    def allows(self, view: FieldView) -> bool:
        """Whether this caller sees the value."""
        return view.all_readable(self.fields) and all(
            view.readable(n) for n in self.if_declared if view.catalog.form_field(n)
        )


@dataclass(frozen=True)
class GatedForm:
    """Form data shown only if every field in `gate` is readable, then redacted like a form."""

    gate: tuple[str, ...]

    def redacted(self, value: Any, view: FieldView) -> dict[str, Any] | None:
        """The value as this caller may see it; None when the gate is closed."""
        return redact_form(value, view) if view.all_readable(self.gate) else None


@dataclass(frozen=True)
class Each:
    """A list whose items are each shown only if every field `gate(item)` names is readable
    (never, for an item it gives None), then redacted by `shape`."""

    gate: Callable[[Mapping[str, Any]], tuple[str, ...] | None]
    shape: Mapping[str, Any]

    def shown(self, value: Any, view: FieldView) -> list[dict[str, Any]]:
        """The items this caller may see, each redacted."""
        if not isinstance(value, list):
            return []
        return [
            redact(item, view, self.shape)
            for item in value
            if isinstance(item, Mapping)
            and (gate := self.gate(item)) is not None
            and view.all_readable(gate)
        ]


@dataclass(frozen=True)
class PerKey:
    """An object whose key `k` is shown only if the field `<base>.<k>` is readable."""

    base: str


@dataclass(frozen=True)
class ByKind:
    """A task value whose rule depends on the task's `kind` (`default` for other kinds)."""

    rules: Mapping[str, Any]
    default: Any


# An action's output: the handlers' (`outputs`), each key as sensitive as a form field so named.
OUTPUT = GatedForm(("outputs",))

# The ticket's title is the intake's `title` or, without one, its `summary`.
TITLE = Gate(("title",), if_declared=("summary",))

TASK_SHAPE: dict[str, Any] = {
    "id": KEEP,
    "ticket_key": KEEP,
    "stage_key": "tasks",
    "kind": "tasks",
    "title": "tasks",
    "group": "tasks",
    "status": "tasks",
    "assignee": "assignee",
    "round": "tasks",
    "opened_at": "tasks",
    "claimed_at": "tasks",
    "completed_at": "tasks",
    "completed_by": "assignee",
    # A service stage's data is its action's output; a wait's the signal's payload, shown like
    # the `external_event` that carried it; every other kind's is form data.
    "data": ByKind({"service": OUTPUT, "wait": "external"}, FORM),
    # When a wait times out or a timer fires; a subprocess's child ticket (its key only: what
    # the child holds is read on the child, by whoever may read it); why a service failed
    # (text our actions write, naming no ticket data).
    "until": "tasks",
    "child": "tasks",
    "error": "tasks",
}

# A link to another ticket, already redacted by the caller's view of that ticket.
LINK_SHAPE: dict[str, Any] = {
    "key": KEEP,
    "stage": KEEP,
    "title": KEEP,
    "status": KEEP,
    "definition_key": KEEP,
}

# What a rating's solution says: its stage and team are the tasks' to tell; each deliverable
# version shows where its own field `deliverables.<key>` does.
SOLUTION_SHAPE: dict[str, Any] = {
    "stage": "tasks",
    "team": "tasks",
    "deliverables": PerKey("deliverables"),
    "playbook": KEEP,
}
FEEDBACK_SHAPE: dict[str, Any] = {
    "csat": KEEP,
    "nps": KEEP,
    "given_at": KEEP,
    "comment": "feedback.comment",
    "solution": ("feedback", SOLUTION_SHAPE),
}
# A problem record the ticket is linked to: its id and counts; the rest is read at /problems.
PROBLEM_LINK_SHAPE: dict[str, Any] = {"id": KEEP, "linked_tickets": KEEP, "confirmed_at": KEEP}
# A playbook already redacted by the caller's view of its source ticket: every key it kept.
PLAYBOOK_LINK_SHAPE: dict[str, Any] = {
    key: KEEP
    for key in (
        "id",
        "category",
        "kind",
        "created_at",
        "title",
        "language",
        "ticket_key",
        "stage",
        "deliverable",
        "version",
        "sha256",
        "size",
        "media_type",
        "file_name",
        "created_by",
    )
}

TICKET_SHAPE: dict[str, Any] = {
    "key": KEEP,
    "definition_key": "definition",
    "definition_version": "definition",
    "department": "department",
    "title": TITLE,
    "status": "status",
    "requester": "requester",
    "created_at": "created_at",
    "updated_at": "updated_at",
    "resolved_at": "resolved_at",
    "closed_at": "closed_at",
    "last_seq": "last_seq",
    "priority": "priority",
    "sla": "sla",
    "waiting_for": "sla",  # a wait is what pauses the SLA clocks
    "intake": FORM,
    "tasks": ("tasks", TASK_SHAPE),
    # A subprocess's parent and children: their keys, as the timeline names them; each link's
    # other parts come redacted by the caller's view of that other ticket (absent if hidden).
    "parent": ("tasks", LINK_SHAPE),
    "children": ("tasks", LINK_SHAPE),
    "feedback": ("feedback", FEEDBACK_SHAPE),
    # Confirmed problems the ticket belongs to: derived like the triage answer, shown with it.
    "problems": ("triage", PROBLEM_LINK_SHAPE),
    # The playbooks of the ticket's category (which says what triage made of it); each comes
    # redacted by the caller's view of the ticket it was promoted from (policies/playbooks.py).
    "playbooks": ("triage", PLAYBOOK_LINK_SHAPE),
}


def _reveal(view: FieldView, name: str, value: Any, out: dict[str, Any], key: str) -> None:
    if view.readable(name):
        out[key] = value
    elif view.masked(name):
        out[key] = mask(value)


def redact(
    document: Mapping[str, Any], view: FieldView, shape: Mapping[str, Any]
) -> dict[str, Any]:
    """The document as this caller may see it: denied fields absent, maskable ones masked.

    Keys the shape does not name are dropped, so a new column stays hidden until it is
    given a field.
    """
    out: dict[str, Any] = {}
    for key, value in document.items():
        rule = shape.get(key)
        if isinstance(rule, ByKind):
            rule = rule.rules.get(str(document.get("kind")), rule.default)
        if rule is None:
            continue
        if rule == KEEP:
            out[key] = value
        elif rule == FORM:
            out[key] = redact_form(value, view)
        elif isinstance(rule, GatedForm):
            shown = rule.redacted(value, view)
            if shown is not None:
                out[key] = shown
        elif isinstance(rule, Gate):
            if rule.allows(view):
                out[key] = value
        elif isinstance(rule, Each):
            out[key] = rule.shown(value, view)
        elif isinstance(rule, PerKey):
            if isinstance(value, Mapping):
                out[key] = {
                    k: v for k, v in value.items() if view.readable(child_path(rule.base, k))
                }
        elif isinstance(rule, tuple):
            gate, inner = rule
            if view.readable(gate) and isinstance(value, list):
                out[key] = [redact(i, view, inner) for i in value if isinstance(i, Mapping)]
            elif view.readable(gate) and isinstance(value, Mapping):
                out[key] = redact(value, view, inner)
        else:
            _reveal(view, rule, value, out, key)
    return out


def redact_task(task: Mapping[str, Any], view: FieldView) -> dict[str, Any]:
    """A task (its form data at every depth) as this caller may see it."""
    return redact(task, view, TASK_SHAPE)
