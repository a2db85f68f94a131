"""Walking a JSON Schema's subschemas, each with its JSON pointer path."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

Path = tuple[str | int, ...]

# 2020-12 keywords whose value is one subschema, a list of them, or a name -> subschema map.
ONE_SUBSCHEMA = frozenset(
    {
        "not",
        "if",
        "then",
        "else",
        "items",
        "contains",
        "additionalProperties",
        "propertyNames",
        "unevaluatedItems",
        "unevaluatedProperties",
        "contentSchema",
    }
)
LIST_OF_SUBSCHEMAS = frozenset({"allOf", "anyOf", "oneOf", "prefixItems"})
MAP_OF_SUBSCHEMAS = frozenset({"properties", "patternProperties", "$defs", "dependentSchemas"})


def subschemas(schema: object, path: Path = ()) -> Iterator[tuple[dict[str, Any], Path]]:
    """Yield every object subschema (the root first) with its path; boolean schemas are skipped."""
    stack: list[tuple[object, Path]] = [(schema, path)]
    while stack:
        node, at = stack.pop()
        if not isinstance(node, dict):
            continue
        yield node, at
        children: list[tuple[object, Path]] = []
        for key, value in node.items():
            if key in ONE_SUBSCHEMA:
                children.append((value, (*at, key)))
            elif key in LIST_OF_SUBSCHEMAS and isinstance(value, list):
                children.extend((item, (*at, key, i)) for i, item in enumerate(value))
            elif key in MAP_OF_SUBSCHEMAS and isinstance(value, dict):
                children.extend((item, (*at, key, name)) for name, item in value.items())
        stack.extend(reversed(children))
