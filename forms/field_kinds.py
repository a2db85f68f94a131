"""The kinds of field the generator knows, each with its key and JSON Schema (the rule table).

The model (forms/field_model.py) decides a phrase's kind; this table decides what that kind
means as a schema: formats, patterns, widgets, sensitivity, bounds.
"""

from __future__ import annotations

import copy
from typing import Any

PHONE_PATTERN = r"^(?:1[3-9][0-9]{9}|\+[1-9][0-9]{6,14})$"
CURRENCIES = ["CNY", "USD", "EUR", "HKD", "JPY", "GBP"]
# Mainland plates (京A12345, 粤B·D12345 new energy) and Latin plates (AB-123-CD, 7ABC123).
PLATE_PATTERN = r"^(?:[\u4e00-\u9fff][A-Z][·\- ]?[A-Z0-9]{5,6}|[A-Za-z0-9][A-Za-z0-9 \-]{1,10})$"


def _text(max_length: int = 200, **extra: Any) -> dict[str, Any]:
    return {"type": "string", "minLength": 1, "maxLength": max_length, **extra}


def _identifier(pattern: str, placeholder: str) -> dict[str, Any]:
    return _text(64, pattern=pattern, **{"x-placeholder": placeholder})


_FILES = {
    "type": "array",
    "items": {"type": "string", "format": "uri"},
    "maxItems": 20,
    "x-widget": "file",
}
_PERSONAL = {"x-sensitivity": "confidential", "x-maskable": True}

SCHEMAS: dict[str, dict[str, Any]] = {
    "name": _text(100, **_PERSONAL),
    "phone": _text(
        16,
        pattern=PHONE_PATTERN,
        **{"x-widget": "phone", **_PERSONAL, "x-placeholder": "13800138000 / +8613800138000"},
    ),
    "email": _text(254, format="email", **_PERSONAL),
    "address": _text(500, **{"x-widget": "textarea", "x-sensitivity": "confidential"}),
    "id_number": _text(
        18, pattern=r"^[0-9]{17}[0-9Xx]$", **{"x-sensitivity": "restricted", "x-maskable": True}
    ),
    "order_number": _text(40, pattern=r"^[A-Za-z0-9-]{4,40}$"),
    "device_sn": _text(64, pattern=r"^[A-Za-z0-9-]{4,64}$", **{"x-widget": "device-picker"}),
    "asset_tag": _text(40, pattern=r"^[A-Za-z0-9-]{3,40}$", **{"x-widget": "device-picker"}),
    "error_code": _text(50),
    "amount": {
        "type": "object",
        "required": ["value", "currency"],
        "properties": {
            "value": {"type": "number", "minimum": 0, "maximum": 1_000_000_000},
            "currency": {"enum": CURRENCIES, "default": "CNY"},
        },
    },
    "currency": {"enum": CURRENCIES, "x-widget": "select", "default": "CNY"},
    "quantity": {"type": "integer", "minimum": 1, "maximum": 1_000_000},
    "time_range": {
        "type": "object",
        "required": ["start", "end"],
        "properties": {
            "start": {"type": "string", "format": "date-time"},
            "end": {"type": "string", "format": "date-time"},
        },
    },
    "date": {"type": "string", "format": "date"},
    "datetime": {"type": "string", "format": "date-time", "x-widget": "date-time"},
    "photo": _FILES,
    "attachment": _FILES,
    "priority": {"enum": ["P1", "P2", "P3", "P4"], "x-widget": "select", "default": "P3"},
    "satisfaction": {"type": "integer", "enum": [1, 2, 3, 4, 5], "x-widget": "select"},
    "store": _text(100),
    "department": _text(100),
    "location": _text(200),
    "description": _text(5000, **{"x-widget": "textarea"}),
    "signature": _text(100_000, **{"x-widget": "signature"}),
    "employee_id": _identifier(r"^[A-Za-z0-9-]{2,32}$", "E012345"),
    "sku": _identifier(r"^[A-Za-z0-9._-]{2,64}$", "SKU-10023-BLK"),
    "ticket_number": _identifier(r"^[A-Za-z0-9-]{3,40}$", "INC-000123"),
    "licence_plate": _text(16, pattern=PLATE_PATTERN, **{"x-placeholder": "京A12345"}),
    "percentage": {"type": "number", "minimum": 0, "maximum": 100, "x-placeholder": "%"},
    "url": _text(2000, format="uri", **{"x-placeholder": "https://"}),
    "duration": _text(40, format="duration", **{"x-placeholder": "PT1H30M"}),
    "yes_no": {"type": "boolean"},
    "number": {"type": "number"},
    "range": {
        "type": "object",
        "required": ["min", "max"],
        "properties": {"min": {"type": "number"}, "max": {"type": "number"}},
    },
    "choice": {"x-widget": "select"},
    "other": _text(500, **{"x-review": True}),
}
# Kinds whose key is the field's own words (a question, a list of choices) rather than the kind.
WORDED = frozenset({"yes_no", "choice", "range", "number", "other"})
# Named after this field, the phrase is already part of it: "amount and currency".
PART_OF = {"currency": "amount"}


def schema_for(kind: str) -> dict[str, Any]:
    """A fresh copy of the kind's schema: drafts never share nested schemas."""
    return copy.deepcopy(SCHEMAS[kind])


def with_bounds(kind: str, schema: dict[str, Any], low: float, high: float) -> dict[str, Any]:
    """The schema with the sentence's bounds ("1-10", "0到100") where the kind holds numbers."""
    if kind == "range":
        for end in ("min", "max"):
            schema["properties"][end].update(minimum=low, maximum=high)
    elif kind == "amount":
        schema["properties"]["value"].update(minimum=low, maximum=high)
    elif kind in ("quantity", "percentage", "number"):
        integral = kind == "quantity" or schema.get("type") == "integer"
        schema.update(
            minimum=int(low) if integral else low, maximum=int(high) if integral else high
        )
    return schema
