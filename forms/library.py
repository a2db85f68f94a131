"""The template library: form + process definition pairs per department (forms/templates/*.yaml)."""

from __future__ import annotations

import copy
from functools import cache
from importlib.resources import files
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field

from domain.definitions import KEY_PATTERN


class Template(BaseModel):
    """A ready-made process: its intake form, its definition, the departments it is approved for."""

    model_config = ConfigDict(extra="forbid")

    key: str = Field(pattern=KEY_PATTERN)
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(min_length=1)
    departments: list[str] = Field(min_length=1, description="Departments approved to use it.")
    form: dict[str, Any] = Field(description="The intake form, published as its own form.")
    definition: dict[str, Any] = Field(
        description="The process definition without key, title and intake form."
    )


@cache
def _library() -> tuple[Template, ...]:
    folder = files("forms") / "templates"
    entries = sorted(
        (e for e in folder.iterdir() if e.name.endswith(".yaml")), key=lambda e: e.name
    )
    return tuple(
        Template.model_validate(yaml.safe_load(e.read_text(encoding="utf-8"))) for e in entries
    )


def bundled_templates(*, department: str | None = None) -> list[Template]:
    """Every bundled template (or those approved for one department), sorted by file name."""
    return [t for t in _library() if department is None or department in t.departments]


def find_template(key: str) -> Template | None:
    """The bundled template with this key."""
    return next((t for t in _library() if t.key == key), None)


def definition_document(
    template: Template, *, key: str, title: str, key_prefix: str | None, form_ref: str
) -> dict[str, Any]:
    """The template's definition as a publishable document, its intake form given by reference."""
    document = copy.deepcopy(template.definition)
    document.update(key=key, title=title, intake_form_ref=form_ref, template=template.key)
    document.setdefault("description", template.description)
    if key_prefix is not None:
        document["key_prefix"] = key_prefix
    return document
