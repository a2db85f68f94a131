"""What a front end needs to draw a form: ordered fields with their widget and conditions."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from domain.problems import pointer
from forms.annotations import DEFAULT_SENSITIVITY
from forms.messages import form_language

TEXTAREA_FROM_LENGTH = 500


class Condition(BaseModel):
    """The field is shown when `field` (a sibling) holds one of `equals` (or none, if negated)."""

    field: str
    equals: list[Any]
    negate: bool = False


class FieldLayout(BaseModel):
    """One field, in display order; nested objects carry their own fields."""

    name: str
    pointer: str
    title: str
    type: str | list[str] | None = None
    widget: str | None = Field(default=None, description="None for a group of fields.")
    format: str | None = None
    placeholder: str | None = None
    help: str | None = None
    required: bool = Field(description="Required whenever the field is visible.")
    sensitivity: str = DEFAULT_SENSITIVITY
    maskable: bool = False
    review: bool = Field(default=False, description="Generated; a person should check it.")
    options: list[Any] | None = None
    repeated: bool = Field(default=False, description="A list of values (or of groups).")
    visible_when: list[Condition] = Field(
        default_factory=list, description="Empty: always shown; otherwise all must hold."
    )
    fields: list[FieldLayout] = Field(default_factory=list)


class FormLayout(BaseModel):
    """A form ready to draw."""

    title: str | None
    description: str | None
    language: str
    fields: list[FieldLayout]


def form_layout(schema: dict[str, Any]) -> FormLayout:
    """Lay out a published form schema: ordered fields, widgets, and dependent fields."""
    return FormLayout(
        title=schema.get("title"),
        description=schema.get("description"),
        language=form_language(schema),
        fields=_fields(schema, ()),
    )


def _fields(schema: dict[str, Any], at: tuple[str, ...]) -> list[FieldLayout]:
    properties: dict[str, Any] = dict(schema.get("properties", {}))
    required = set(schema.get("required", []))
    dependent: dict[str, tuple[list[Condition], bool]] = {}
    for condition, branch in _conditional_branches(schema):
        for name, sub in branch.get("properties", {}).items():
            properties.setdefault(name, sub)
            conditions, was_required = dependent.get(name, ([], False))
            dependent[name] = ([*conditions, condition], was_required)
        for name in branch.get("required", []):
            conditions, _ = dependent.get(name, ([], False))
            if condition not in conditions:
                conditions = [*conditions, condition]
            dependent[name] = (conditions, True)
    order = [n for n in schema.get("x-order", []) if n in properties]
    order += [n for n in properties if n not in order]
    fields = []
    for name in order:
        sub = properties[name]
        if not isinstance(sub, dict):
            sub = {}  # a boolean schema: any value (true) or none (false); still a field
        conditions, required_when_shown = dependent.get(name, ([], False))
        if name in required:
            conditions = []  # always required means always shown
        fields.append(
            _field(
                name,
                sub,
                (*at, name),
                required=name in required or required_when_shown,
                visible_when=conditions,
            )
        )
    return fields


def _field(
    name: str,
    schema: dict[str, Any],
    at: tuple[str, ...],
    *,
    required: bool,
    visible_when: list[Condition],
) -> FieldLayout:
    items = schema.get("items") if isinstance(schema.get("items"), dict) else None
    target = items if items is not None else schema
    nested = _fields(target, at) if _is_object(target) else []
    return FieldLayout(
        name=name,
        pointer=pointer(*at),
        title=str(schema.get("title", name)),
        type=schema.get("type"),
        widget=None if nested else _widget(schema, target),
        format=target.get("format"),
        placeholder=schema.get("x-placeholder"),
        help=schema.get("x-help", schema.get("description")),
        required=required,
        sensitivity=schema.get("x-sensitivity", DEFAULT_SENSITIVITY),
        maskable=bool(schema.get("x-maskable", False)),
        review=bool(schema.get("x-review", False)),
        options=_options(target),
        repeated=items is not None,
        visible_when=visible_when,
        fields=nested,
    )


def _is_object(schema: dict[str, Any]) -> bool:
    return schema.get("type") == "object" or "properties" in schema


def _options(schema: dict[str, Any]) -> list[Any] | None:
    if "enum" in schema:
        return list(schema["enum"])
    if schema.get("type") == "boolean":
        return [True, False]
    return None


def _widget(schema: dict[str, Any], target: dict[str, Any]) -> str:
    explicit = schema.get("x-widget")
    if isinstance(explicit, str):
        return explicit
    if _options(target) is not None:
        return "select"
    if target.get("format") in ("date-time", "date", "time"):
        return "date-time"
    if target.get("maxLength", 0) > TEXTAREA_FROM_LENGTH:
        return "textarea"
    return "text"


def _conditional_branches(schema: dict[str, Any]) -> list[tuple[Condition, dict[str, Any]]]:
    """The `then`/`else` branches of simple conditions (one field equal to constants)."""
    holders = [schema, *(s for s in schema.get("allOf", []) if isinstance(s, dict))]
    found = []
    for holder in holders:
        condition = _condition(holder.get("if"))
        if condition is None:
            continue
        if isinstance(holder.get("then"), dict):
            found.append((condition, holder["then"]))
        if isinstance(holder.get("else"), dict):
            found.append((condition.model_copy(update={"negate": True}), holder["else"]))
    return found


def _condition(test: object) -> Condition | None:
    if not isinstance(test, dict) or not isinstance(test.get("properties"), dict):
        return None
    tests = test["properties"]
    if len(tests) != 1:
        return None
    ((name, spec),) = tests.items()
    if not isinstance(spec, dict):
        return None
    if "const" in spec:
        return Condition(field=name, equals=[spec["const"]])
    if isinstance(spec.get("enum"), list):
        return Condition(field=name, equals=list(spec["enum"]))
    return None
