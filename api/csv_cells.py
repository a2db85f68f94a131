"""CSV cells a spreadsheet shows as text, never runs as a formula (OWASP CSV injection)."""

from __future__ import annotations

from collections.abc import Iterable

# A spreadsheet reads a cell starting with one of these as a formula (tab and carriage return
# because some strip them first and then read the character after).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> object:
    """The value with a single quote before a leading formula character, as OWASP advises."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_row(values: Iterable[object]) -> list[object]:
    """One CSV row (or the header) with every cell neutralised."""
    return [csv_cell(v) for v in values]
