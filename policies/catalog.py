"""Which fields a ticket has, and how sensitive each is: form fields and system fields."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

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
}


@dataclass(frozen=True)
class FieldSpec:
    """A field's sensitivity and whether it may be shown masked."""

    sensitivity: str = DEFAULT_SENSITIVITY
    maskable: bool = False


@dataclass(frozen=True)
class FieldCatalog:
    """Every field of one definition version: system fields, then intake and stage form fields."""

    ident: str = ""
    fields: Mapping[str, FieldSpec] = field(default_factory=dict)

    def spec(self, name: str) -> FieldSpec:
        """The field's spec; a field no form declares is internal and not maskable."""
        return self.fields.get(name, _DEFAULT_SPEC)

    def form_field(self, name: str) -> bool:
        """Whether a form (intake or stage) declares this field."""
        return name in self.fields and name not in SYSTEM_FIELDS


_DEFAULT_SPEC = FieldSpec()


def _spec(schema: Any) -> FieldSpec:
    if not isinstance(schema, dict):
        return _DEFAULT_SPEC
    sensitivity = schema.get("x-sensitivity", DEFAULT_SENSITIVITY)
    if sensitivity not in SENSITIVITY:
        # An unknown label must not make a field more visible than the default.
        sensitivity = "restricted"
    return FieldSpec(sensitivity=sensitivity, maskable=schema.get("x-maskable") is True)


def _form_fields(form: Any) -> dict[str, FieldSpec]:
    if not isinstance(form, dict) or not isinstance(form.get("properties"), dict):
        return {}
    return {name: _spec(schema) for name, schema in form["properties"].items()}


def _stricter(a: FieldSpec, b: FieldSpec) -> FieldSpec:
    """Two forms declaring one field: the more sensitive declaration wins."""
    if SENSITIVITY.index(b.sensitivity) > SENSITIVITY.index(a.sensitivity):
        return b
    return FieldSpec(a.sensitivity, a.maskable and b.maskable)


def catalog_from_document(document: Mapping[str, Any], ident: str = "") -> FieldCatalog:
    """The catalog of a published definition document (forms are resolved inline)."""
    fields: dict[str, FieldSpec] = {name: FieldSpec(s) for name, s in SYSTEM_FIELDS.items()}
    forms = [document.get("intake_form")]
    forms += [s.get("form") for s in document.get("stages", []) if isinstance(s, dict)]
    for form in forms:
        for name, spec in _form_fields(form).items():
            if name in SYSTEM_FIELDS:
                continue  # the system field's own sensitivity governs a clashing name
            fields[name] = _stricter(fields[name], spec) if name in fields else spec
    ident = ident or f"{document.get('key', '')}@{document.get('version', 0)}"
    return FieldCatalog(ident=ident, fields=fields)
