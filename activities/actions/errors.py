"""How an action fails: which failures Temporal retries (per the stage's policy) and which not.

Retries are Temporal's alone: an action never loops. Each failure is an ApplicationError whose
`type` says what happened and whose message is fit for the ticket's timeline (no credentials,
no response bodies).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from jsonschema import Draft202012Validator, ValidationError
from temporalio.exceptions import ApplicationError

from domain.action_failures import FAILED, REFUSED, UNAVAILABLE
from domain.actions import ActionSpec
from domain.problems import Problem, Rejected, pointer

# Problems shown in a refusal's message; all of them are in its details.
SHOWN_PROBLEMS = 5
# Schema keywords whose messages name keys, never values.
NAMING_KEYWORDS = frozenset(
    {"required", "additionalProperties", "propertyNames", "minProperties", "maxProperties"}
)


def refused(message: str, problems: list[Problem] | None = None) -> ApplicationError:
    """A non-retryable refusal; the problems (JSON pointers into the parameters) go in details."""
    found = [problem.model_dump() for problem in problems or []]
    return ApplicationError(message, found, type=REFUSED, non_retryable=True)


def failed(message: str, **details: Any) -> ApplicationError:
    """A non-retryable failure: retrying would get the same answer."""
    return ApplicationError(message, details, type=FAILED, non_retryable=True)


def unavailable(message: str, *, retry_after: timedelta | None = None) -> ApplicationError:
    """A transient failure Temporal retries (after `retry_after` when the other side said so)."""
    return ApplicationError(message, type=UNAVAILABLE, next_retry_delay=retry_after)


def rejected(action: str, exc: Rejected) -> ApplicationError:
    """A domain rejection of an action's parameters as a refusal listing its problems."""
    return refused(f"{action}: {_summary(exc.problems)}", exc.problems)


def checked_params(spec: ActionSpec, params: dict[str, Any]) -> dict[str, Any]:
    """`params` if they meet the action's schema (publish checked them before expressions ran)."""
    validator = Draft202012Validator(spec.params_schema)
    problems = [
        Problem(pointer=pointer(*error.absolute_path), detail=_detail(error))
        for error in sorted(validator.iter_errors(params), key=lambda e: list(e.absolute_path))
    ]
    if problems:
        raise refused(f"{spec.name}: {_summary(problems)}", problems)
    return params


def _detail(error: ValidationError) -> str:
    # jsonschema's messages quote the offending value, which may be a credential in a header.
    if error.validator in NAMING_KEYWORDS:
        return error.message
    return f"must satisfy {error.validator}: {error.validator_value!r}"


def _summary(problems: list[Problem]) -> str:
    shown = "; ".join(f"{p.pointer or '/'}: {p.detail}" for p in problems[:SHOWN_PROBLEMS])
    more = len(problems) - SHOWN_PROBLEMS
    return shown + (f" (and {more} more)" if more > 0 else "")
