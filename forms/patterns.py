"""Form patterns on RE2, a linear-time engine: no pattern can backtrack for ever.

Patterns come from process owners and run on every submission, so a backtracking engine such
as Python's `re` would let one pattern (`^(a|a)*$`) stall the service for seconds per
character. RE2 matches in time linear in the input; what it gives up (backreferences and
lookaround) is refused when a form is published, with RE2's reason.

JSON Schema patterns are ECMA-262 expressions. RE2 reads most of them alike (ASCII `\\d` and
`\\w`, `^`/`$` at the ends of the text); ECMA's `\\uXXXX` escape is rewritten to RE2's
`\\x{XXXX}`.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

import re2

MAX_PATTERN_LENGTH = 1000
# Memory per compiled pattern (program and match cache); RE2 refuses a program that needs more.
MAX_PATTERN_MEMORY = 1 << 20
# A backslash pair stays as it is (an escaped backslash); `\uXXXX` becomes `\x{XXXX}`.
_ECMA_ESCAPES = re.compile(r"\\\\|\\u([0-9A-Fa-f]{4})")


class PatternRefused(Exception):
    """A pattern RE2 cannot compile (backreference, lookaround, bad syntax, too large)."""


def _options() -> Any:
    options = re2.Options()
    # A refused pattern is reported to its author as a problem, not logged by RE2.
    options.log_errors = False
    options.max_mem = MAX_PATTERN_MEMORY
    return options


_OPTIONS = _options()


def _rewrite(pattern: str) -> str:
    return _ECMA_ESCAPES.sub(lambda m: m[0] if m[1] is None else "\\x{" + m[1] + "}", pattern)


@lru_cache(maxsize=256)
def compiled(pattern: str) -> Any:
    """The RE2 program of a form pattern; raises PatternRefused when RE2 cannot compile it."""
    try:
        return re2.compile(_rewrite(pattern), _OPTIONS)
    except re2.error as exc:
        reason = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else exc
        raise PatternRefused(str(reason)) from exc
    except UnicodeEncodeError as exc:
        raise PatternRefused("the pattern is not valid Unicode (a lone surrogate)") from exc


def pattern_problem(pattern: str) -> str | None:
    """Say why a regular expression may not be used in a form, or None when it may."""
    if len(pattern) > MAX_PATTERN_LENGTH:
        return f"the pattern is longer than {MAX_PATTERN_LENGTH} characters"
    try:
        compiled(pattern)
    except PatternRefused as exc:
        return (
            "form patterns run on RE2, a linear-time engine without backreferences or "
            f"lookaround, which refuses this one: {exc}"
        )
    return None


def search(pattern: str, text: str) -> bool:
    """Whether the pattern matches anywhere in `text` (JSON Schema's `pattern` semantics)."""
    return compiled(pattern).search(text) is not None
