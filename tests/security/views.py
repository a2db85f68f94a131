"""A FieldView from a few policy rules, for pure tests of what a caller may see."""

from __future__ import annotations

from typing import Any

from policies.catalog import catalog_from_document
from policies.decisions import Decision, Rule
from policies.redaction import FieldView


def view_of(rules: list[tuple[str, str, str, str]], intake_form: dict[str, Any]) -> FieldView:
    """A view granting these (object, action, clearance, effect) rules on one definition."""
    decision = Decision(rules=tuple(Rule("me", "*", *rule) for rule in rules))
    catalog = catalog_from_document({"key": "d", "version": 1, "intake_form": intake_form})
    return FieldView(decisions=(decision,), catalog=catalog)
