"""Validation problems: one message per offending location (a JSON pointer)."""

from __future__ import annotations

from pydantic import BaseModel


class Problem(BaseModel):
    """One thing wrong with an input, located by a JSON pointer."""

    pointer: str
    detail: str


def pointer(*parts: str | int) -> str:
    """Build an RFC 6901 JSON pointer from path parts."""
    escaped = (str(p).replace("~", "~0").replace("/", "~1") for p in parts)
    return "".join("/" + e for e in escaped)


class Rejected(Exception):
    """Input refused, with every problem found: the error every layer raises and maps."""

    def __init__(self, problems: list[Problem]):
        super().__init__(f"{len(problems)} problem(s)")
        self.problems = problems
