"""What changed between two versions of a form, field by field."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from domain.problems import pointer

# Field-level keywords compared through the fields they hold instead of as values.
_FIELD_STRUCTURE = frozenset({"x-order"})
# A form's `required` list shows up as each field's `required` flag.
_FORM_STRUCTURE = frozenset({"required"})


class KeywordChange(BaseModel):
    """One keyword whose value differs (None: absent on that side)."""

    keyword: str
    before: Any = None
    after: Any = None


class FieldRef(BaseModel):
    """A field by its pointer and title."""

    pointer: str
    title: str


class FieldChange(BaseModel):
    """A field present in both versions whose definition changed."""

    pointer: str
    title: str
    changes: list[KeywordChange]


class FormDiff(BaseModel):
    """Fields added, removed and changed from version `from_version` to `to_version`."""

    key: str
    from_version: int
    to_version: int
    added: list[FieldRef]
    removed: list[FieldRef]
    changed: list[FieldChange]
    form_changes: list[KeywordChange]


def diff_forms(
    key: str, before: dict[str, Any], after: dict[str, Any], *, versions: tuple[int, int]
) -> FormDiff:
    """Compare two form schemas: fields (nested ones too) by pointer, and form-level keywords."""
    old, new = _flatten(before, ()), _flatten(after, ())
    return FormDiff(
        key=key,
        from_version=versions[0],
        to_version=versions[1],
        added=[FieldRef(pointer=p, title=_title(new[p], p)) for p in new if p not in old],
        removed=[FieldRef(pointer=p, title=_title(old[p], p)) for p in old if p not in new],
        changed=[
            FieldChange(pointer=p, title=_title(new[p], p), changes=changes)
            for p in new
            if p in old and (changes := _keyword_changes(old[p], new[p]))
        ],
        form_changes=_keyword_changes(_own(before), _own(after), skip=_FORM_STRUCTURE),
    )


def _flatten(schema: dict[str, Any], at: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """Every field by pointer, each with its own keywords and a `required` pseudo-keyword."""
    fields: dict[str, dict[str, Any]] = {}
    required = set(schema.get("required", []))
    for name, sub in schema.get("properties", {}).items():
        own = _own(sub) if isinstance(sub, dict) else {"schema": sub}  # true/false schemas
        fields[pointer(*at, name)] = {**own, "required": name in required}
        if not isinstance(sub, dict):
            continue
        if isinstance(sub.get("properties"), dict):
            fields.update(_flatten(sub, (*at, name)))
    return fields


def _own(schema: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in schema.items() if k != "properties"}


def _keyword_changes(
    old: dict[str, Any], new: dict[str, Any], *, skip: frozenset[str] = _FIELD_STRUCTURE
) -> list[KeywordChange]:
    return [
        KeywordChange(keyword=k, before=old.get(k), after=new.get(k))
        for k in sorted(set(old) | set(new))
        if k not in skip and old.get(k) != new.get(k)
    ]


def _title(field: dict[str, Any], at: str) -> str:
    return str(field.get("title", at.rsplit("/", 1)[-1]))
