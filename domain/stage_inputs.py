"""What an automated stage starts with: expressions in its parameters evaluated over the ticket.

A string value starting with `=` is an expression (the Camunda convention); any other value is
taken as written. Values come back as JSON (instants as ISO 8601 text, durations as seconds),
since they travel to activities and into events.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from domain.expressions import Context, ExpressionError, evaluate

EXPRESSION_PREFIX = "="


def as_json(value: Any) -> Any:
    """An expression's value as JSON: instants as ISO text, durations as seconds, bytes as text."""
    if isinstance(value, dict):
        return {str(k): as_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [as_json(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return value


def evaluate_params(value: Any, context: Context) -> Any:
    """The value with every `=expression` string (at any depth) replaced by its value."""
    if isinstance(value, str) and value.startswith(EXPRESSION_PREFIX):
        return as_json(evaluate(value[len(EXPRESSION_PREFIX) :], context))
    if isinstance(value, dict):
        return {k: evaluate_params(v, context) for k, v in value.items()}
    if isinstance(value, list):
        return [evaluate_params(v, context) for v in value]
    return value


def evaluate_fields(fields: dict[str, str], context: Context) -> dict[str, Any]:
    """Each field's expression evaluated (a subprocess's intake mapping)."""
    return {name: as_json(evaluate(source, context)) for name, source in fields.items()}


def instant(source: str, context: dict[str, Any]) -> datetime:
    """The instant an expression gives (a CEL timestamp, or ISO 8601 text with a zone)."""
    value = evaluate(source, context)
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise ExpressionError(f"{source!r} gave {value!r}, not an instant") from None
    if not isinstance(value, datetime):
        raise ExpressionError(f"{source!r} gave {type(value).__name__}, not an instant")
    if value.tzinfo is None:
        raise ExpressionError(f"{source!r} gave an instant without a time zone")
    return value.astimezone(UTC)
