"""The example process definitions shipped with Ticketflow (ticketflow/examples/*.yaml)."""

from __future__ import annotations

from importlib.resources import files
from typing import Any

import yaml


def bundled_definitions() -> list[tuple[str, dict[str, Any]]]:
    """Return (file name, parsed YAML document) for every bundled definition, sorted by name."""
    folder = files("ticketflow") / "examples"
    definitions: list[tuple[str, dict[str, Any]]] = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".yaml"):
            continue
        document = yaml.safe_load(entry.read_text(encoding="utf-8"))
        if not isinstance(document, dict):
            raise ValueError(f"bundled definition {entry.name} is not a YAML mapping")
        definitions.append((entry.name, document))
    return definitions
