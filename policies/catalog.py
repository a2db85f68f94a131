"""Which fields a ticket has, and how sensitive each is: form fields at every depth, system fields.

A form field's name is its path: `contact.id_number` for a nested property, `devices[]` for the
items of an array and `devices[].serial` for a property of them. Its policy object is
`ticket.<path>`, so a rule on `ticket.contact.*` reaches every child of `contact`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from forms.schema_walk import subschemas
from policies.enforcer import DEFAULT_SENSITIVITY, SENSITIVITY

# System fields of every ticket, as policy objects `ticket.<name>`, and their sensitivity.
SYSTEM_FIELDS: dict[str, str] = {
    "definition": "public",
    "department": "public",
    "status": "public",
    "created_at": "public",
    "updated_at": "public",
    "resolved_at": "public",
    "closed_at": "public",
    "last_seq": "public",
    "title": "internal",
    "requester": "internal",
    "assignee": "internal",
    "priority": "internal",
    "sla": "internal",
    "triage": "internal",
    "tasks": "internal",
    "events": "internal",
    "comments": "internal",
    "internal_comments": "confidential",
    "external": "internal",
    # Links to other tickets (possible duplicates): for handlers, not for requesters.
    "links": "confidential",
    # Reports of other requesters linked to this ticket: their names and texts are theirs.
    "duplicates": "confidential",
    # What automated stages brought in: action outputs (a CRM's answer, a device's readings).
    # For the handling groups; each output key is also redacted by a form field of its name.
    "outputs": "confidential",
    # What task stages handed over (artifacts, commits, links, records): each deliverable is
    # also a field `deliverables.<key>` with the sensitivity its contract declares.
    "deliverables": "internal",
    # The customer's rating of a closed ticket and the solution it rated; their own words in it
    # are confidential.
    "feedback": "internal",
    "feedback.comment": "confidential",
    # After-sales care of the ticket's customer: what was planned, sent, confirmed, stopped
    # (a stop tells of a consent revoked, as revealing as the customer's consent itself).
    "care": "confidential",
    # What the customer's sentiment proposed (expedites): derived from their messages, which
    # are scored only with their consent; for the handling groups.
    "sentiment": "confidential",
}
DELIVERABLES = "deliverables"

ITEMS = "[]"
# Declarations under one form beyond this many are not expanded: the rest of the subtree takes
# the strictest sensitivity found in it (a `$ref` fan-out must not blow up the catalog).
MAX_PATHS = 5000
MAX_DEPTH = 64


@dataclass(frozen=True)
class FieldSpec:
    """A field's sensitivity and whether it may be shown masked."""

    sensitivity: str = DEFAULT_SENSITIVITY
    maskable: bool = False


_DEFAULT_SPEC = FieldSpec()
_LEVEL = {name: i for i, name in enumerate(SENSITIVITY)}


def child_path(parent: str, key: str) -> str:
    """The path of an object's property `key` (a top-level field when `parent` is empty)."""
    return f"{parent}.{key}" if parent else key


def item_path(parent: str) -> str:
    """The path of an array's items."""
    return parent + ITEMS


def parent_of(path: str) -> str | None:
    """The path's parent as text (None for a top-level field)."""
    if path.endswith(ITEMS):
        return path[: -len(ITEMS)]
    cut = path.rfind(".")
    return path[:cut] if cut > 0 else None


def ancestors(path: str) -> Iterator[str]:
    """The path's ancestors as text, nearest first."""
    parent = parent_of(path)
    while parent:
        yield parent
        parent = parent_of(parent)


def stricter(a: FieldSpec, b: FieldSpec) -> FieldSpec:
    """Two declarations of one field: the more sensitive wins, masking only if both allow it."""
    if _LEVEL[b.sensitivity] > _LEVEL[a.sensitivity]:
        return b
    if _LEVEL[a.sensitivity] > _LEVEL[b.sensitivity]:
        return a
    return FieldSpec(a.sensitivity, a.maskable and b.maskable)


def inherited(spec: FieldSpec) -> FieldSpec:
    """What an undeclared child of a field with this spec gets: its sensitivity, no masking."""
    return FieldSpec(spec.sensitivity) if spec.maskable else spec


@dataclass(frozen=True)
class FieldCatalog:
    """Every field of one definition version: system fields, then form fields at every depth.

    `fields` holds each declared path with its effective spec (the strictest of its own and its
    ancestors' declarations). `others` holds, per object path ("" for the top level), the spec
    of keys it does not declare, where that is stricter than the object itself.
    """

    ident: str = ""
    fields: Mapping[str, FieldSpec] = field(default_factory=dict)
    others: Mapping[str, FieldSpec] = field(default_factory=dict)

    def spec(self, name: str) -> FieldSpec:
        """The spec of a field path; an undeclared one takes its nearest declared ancestor's."""
        found = self.fields.get(name)
        if found is not None:
            return found
        for parent in ancestors(name):
            other = self.others.get(parent)
            if other is not None:
                return other
            declared = self.fields.get(parent)
            if declared is not None:
                return inherited(declared)
        return self.others.get("", _DEFAULT_SPEC)

    def child_spec(self, parent: str, parent_spec: FieldSpec | None, key: str) -> FieldSpec:
        """The spec of property `key` of the object at `parent` whose spec is `parent_spec`."""
        path = child_path(parent, key)
        return self._below(path, parent, parent_spec, ambiguous="." in key or "[" in key)

    def items_spec(self, parent: str, parent_spec: FieldSpec) -> FieldSpec:
        """The spec of the items of the array at `parent`."""
        return self._below(item_path(parent), parent, parent_spec, ambiguous=False)

    def _below(
        self, path: str, parent: str, parent_spec: FieldSpec | None, *, ambiguous: bool
    ) -> FieldSpec:
        fallback = self.others.get(parent)
        if fallback is None:
            fallback = _DEFAULT_SPEC if parent_spec is None else inherited(parent_spec)
        if ambiguous:
            # A key holding "." or "[" spells another field's path: the stricter of both.
            return stricter(self.spec(path), fallback)
        return self.fields.get(path, fallback)

    def form_field(self, name: str) -> bool:
        """Whether a form (intake or stage) declares this field (a path)."""
        return name in self.fields and name not in SYSTEM_FIELDS

    @cached_property
    def top_level(self) -> tuple[str, ...]:
        """Fields that are no other field's child: system fields and top-level form fields."""
        return tuple(n for n in self.fields if parent_of(n) is None)


def _own_spec(schema: Mapping[str, Any]) -> FieldSpec | None:
    """The node's own declaration, or None when it declares neither keyword."""
    if "x-sensitivity" not in schema and "x-maskable" not in schema:
        return None
    sensitivity = schema.get("x-sensitivity", DEFAULT_SENSITIVITY)
    if sensitivity not in SENSITIVITY:
        # An unknown label must not make a field more visible than the default.
        sensitivity = "restricted"
    return FieldSpec(sensitivity=sensitivity, maskable=schema.get("x-maskable") is True)


# Keywords whose subschemas describe the same value as their parent (their properties and items
# are the value's own properties and items).
_SAME_VALUE_LISTS = ("allOf", "anyOf", "oneOf")
_SAME_VALUE_ONE = ("if", "then", "else", "not")
# Keywords whose subschemas describe keys or items the value does not declare by name.
_OTHER_KEYS = ("additionalProperties", "unevaluatedProperties", "propertyNames")
_ITEMS = ("items", "unevaluatedItems", "contains")


class _Builder:
    """Walks one form schema into paths and specs."""

    def __init__(self, root: Mapping[str, Any], fields: dict[str, FieldSpec]) -> None:
        self.root = root
        self.fields = fields
        self.others: dict[str, FieldSpec] = {}
        self.budget = MAX_PATHS

    def resolve(self, reference: object) -> Mapping[str, Any] | None:
        """A local `#/...` reference's target (forms are checked to hold only such)."""
        if not isinstance(reference, str) or not reference.startswith("#"):
            return None
        node: object = self.root
        for token in reference[2:].split("/") if reference != "#" else []:
            name = token.replace("~1", "/").replace("~0", "~")
            if isinstance(node, Mapping) and name in node:
                node = node[name]
            elif isinstance(node, list) and name.isdigit() and int(name) < len(node):
                node = node[int(name)]
            else:
                return None
        return node if isinstance(node, Mapping) else None

    def branches(self, schema: Mapping[str, Any]) -> tuple[list[Mapping[str, Any]], set[str]]:
        """The node and every subschema describing the same value, and the `$ref`s followed."""
        found: list[Mapping[str, Any]] = []
        refs: set[str] = set()
        stack: list[object] = [schema]
        visited: set[int] = set()
        while stack:
            node = stack.pop()
            if not isinstance(node, Mapping) or id(node) in visited:
                continue
            visited.add(id(node))
            found.append(node)
            target = self.resolve(node.get("$ref"))
            if target is not None:
                refs.add(str(node["$ref"]))
                stack.append(target)
            for key in _SAME_VALUE_LISTS:
                if isinstance(node.get(key), list):
                    stack.extend(node[key])
            stack.extend(node.get(key) for key in _SAME_VALUE_ONE)
            if isinstance(node.get("dependentSchemas"), Mapping):
                stack.extend(node["dependentSchemas"].values())
        return found, refs

    def strictest_within(self, schema: object) -> FieldSpec:
        """The strictest sensitivity declared anywhere in a subtree, `$ref`s followed."""
        level = FieldSpec(SENSITIVITY[0])
        stack = [schema]
        visited: set[int] = set()
        while stack:
            node = stack.pop()
            if id(node) in visited:
                continue
            visited.add(id(node))
            for sub, _at in subschemas(node):
                own = _own_spec(sub)
                if own is not None:
                    level = stricter(level, FieldSpec(own.sensitivity))
                target = self.resolve(sub.get("$ref"))
                if target is not None:
                    stack.append(target)
        return level

    def walk(self, schema: Mapping[str, Any], spec: FieldSpec | None) -> None:
        """Declare every field below a form's top level (`spec`: the form's own declaration)."""
        Entry = tuple[Mapping[str, Any], str, FieldSpec | None, frozenset[str]]
        stack: list[Entry] = [(schema, "", spec, frozenset())]
        while stack:
            node, at, at_spec, chain = stack.pop()
            parts, refs = self.branches(node)
            if refs & chain or at.count(".") + at.count(ITEMS) > MAX_DEPTH or self.budget <= 0:
                # A recursive structure (or one too big): everything below it is as strict as
                # anything declared in it.
                self._other(at, stricter(at_spec or _DEFAULT_SPEC, self.strictest_within(node)))
                continue
            chain = chain | refs
            children: dict[str, list[Mapping[str, Any]]] = {}
            items: list[Mapping[str, Any]] = []
            for part in parts:
                properties = part.get("properties")
                if isinstance(properties, Mapping):
                    for key, sub in properties.items():
                        if isinstance(sub, Mapping):
                            children.setdefault(key, []).append(sub)
                if isinstance(part.get("prefixItems"), list):
                    items.extend(s for s in part["prefixItems"] if isinstance(s, Mapping))
                items.extend(part[k] for k in _ITEMS if isinstance(part.get(k), Mapping))
                others = [part.get(k) for k in _OTHER_KEYS]
                if isinstance(part.get("patternProperties"), Mapping):
                    others.extend(part["patternProperties"].values())
                for other in others:
                    if isinstance(other, Mapping):
                        base = inherited(at_spec) if at_spec else _DEFAULT_SPEC
                        self._other(at, stricter(base, self.strictest_within(other)))
            for key, subs in children.items():
                path = child_path(at, key)
                child = self._declare(path, subs, at_spec)
                stack.extend((sub, path, child, chain) for sub in subs)
            if items:
                path = item_path(at)
                child = self._declare(path, items, at_spec)
                stack.extend((sub, path, child, chain) for sub in items)

    def own(self, subs: list[Mapping[str, Any]]) -> FieldSpec | None:
        """The strictest declaration among these subschemas and their branches."""
        own: FieldSpec | None = None
        for sub in subs:
            for part in self.branches(sub)[0]:
                declared = _own_spec(part)
                if declared is not None:
                    own = declared if own is None else stricter(own, declared)
        return own

    def _declare(
        self, path: str, subs: list[Mapping[str, Any]], parent: FieldSpec | None
    ) -> FieldSpec:
        self.budget -= 1
        if path in SYSTEM_FIELDS:
            spec = FieldSpec(SYSTEM_FIELDS[path])  # the system field governs a clashing name
        else:
            spec = _effective(self.own(subs), parent)
        previous = self.fields.get(path)
        self.fields[path] = spec if previous is None else stricter(previous, spec)
        return self.fields[path]

    def _other(self, path: str, spec: FieldSpec) -> None:
        previous = self.others.get(path)
        self.others[path] = spec if previous is None else stricter(previous, spec)


def _effective(own: FieldSpec | None, parent: FieldSpec | None) -> FieldSpec:
    """A field's own declaration under its parent's: never less sensitive than the parent.

    A field declaring no sensitivity takes its parent's (a top-level one the default); it is
    maskable only if it says so itself.
    """
    if parent is None:
        return own or _DEFAULT_SPEC
    if own is None:
        return inherited(parent)
    level = max(_LEVEL[own.sensitivity], _LEVEL[parent.sensitivity])
    return FieldSpec(SENSITIVITY[level], own.maskable)


def _settle(fields: dict[str, FieldSpec], others: dict[str, FieldSpec]) -> None:
    """Raise every path to its ancestors' level: two forms may declare one object differently."""
    for path in sorted(fields, key=len):
        parent = parent_of(path)
        if parent is not None and parent in fields:
            fields[path] = _effective(fields[path], fields[parent])
    for path, spec in others.items():
        if path in fields:
            others[path] = stricter(spec, inherited(fields[path]))


def catalog_from_document(document: Mapping[str, Any], ident: str = "") -> FieldCatalog:
    """The catalog of a published definition document (forms are resolved inline)."""
    fields: dict[str, FieldSpec] = {name: FieldSpec(s) for name, s in SYSTEM_FIELDS.items()}
    others: dict[str, FieldSpec] = {}
    forms = [document.get("intake_form")]
    forms += [s.get("form") for s in document.get("stages", []) if isinstance(s, dict)]
    for form in forms:
        if not isinstance(form, Mapping):
            continue
        builder = _Builder(form, fields)
        builder.walk(form, builder.own([form]))
        for path, spec in builder.others.items():
            others[path] = spec if path not in others else stricter(others[path], spec)
    for stage in document.get("stages", []):
        specs = stage.get("deliverables") if isinstance(stage, dict) else None
        for spec in specs if isinstance(specs, list) else []:
            if isinstance(spec, Mapping) and isinstance(spec.get("key"), str):
                own = FieldSpec(str(spec.get("sensitivity", DEFAULT_SENSITIVITY)))
                path = child_path(DELIVERABLES, spec["key"])
                fields[path] = stricter(fields[path], own) if path in fields else own
    _settle(fields, others)
    ident = ident or f"{document.get('key', '')}@{document.get('version', 0)}"
    return FieldCatalog(ident=ident, fields=fields, others=others)
