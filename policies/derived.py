"""Derived data (the triage answer's features) shown only as far as its source fields are.

A feature of the triage model is named after what it was computed from (`triage.features`):
`word:` and `char:` n-grams of the title and description text, `field:<name>=<value>`
categoricals, and `device:<number>` evidence: from the intake, or `device:live.<point>` from
the device read at creation, which is what automated stages brought in (the confidential
system field `outputs`, like the `device_snapshot_taken` event). Each maps to the ticket fields
it was derived from; a caller sees a feature only when they may read every one of them. A
feature whose source cannot be told is never shown.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from domain.triage import CATEGORICAL_FIELDS
from domain.triage_routing import (
    LIVE_PREFIX,
    NUMBER_SOURCES,
    categorical_in_intake,
    description_field,
    number_source,
)
from policies.catalog import child_path
from policies.redaction import FieldView

# Categoricals the model takes from the requester's account when the intake lacks them.
_FROM_REQUESTER = frozenset({"reporter_role", "department"})
_MISSING = "_missing"
# What the device said at creation is governed like every automated stage's output.
LIVE_SOURCE = "outputs"
# Parts of a triage answer that are the model's own output (labels and scores): shown to
# whoever may read ticket.triage. `priority` can become the ticket's priority, so it also
# needs that field; `top_features` are filtered one by one; anything else is dropped.
_MODEL_OUTPUT = (
    "model_version",
    "error",
    "team",
    "confidence",
    "category",
    "category_confidence",
    "alternatives",
    "evidence",
)


def feature_sources(feature: str, intake: Mapping[str, Any]) -> frozenset[str] | None:
    """The ticket fields a model feature was derived from; None when that cannot be told."""
    part, sep, name = feature.partition(":")
    if not sep or not name:
        return None
    if part in ("word", "char"):
        # Both texts are one TF-IDF document: its norm couples every n-gram's weight to the
        # whole text, so a feature of either part depends on both.
        return frozenset({*_title_sources(intake), *filter(None, [description_field(intake)])})
    if part == "field":
        field, eq, _value = name.partition("=")
        if not eq or field not in CATEGORICAL_FIELDS:
            return None
        if categorical_in_intake(intake, field):
            return frozenset({field})
        return frozenset({"requester"}) if field in _FROM_REQUESTER else None
    if part == "device" and name.startswith(LIVE_PREFIX):
        return frozenset({LIVE_SOURCE})
    if part == "device":
        # A number's column holds its value, or the median when the ticket lacks it; a
        # `_missing` column says it lacks it: absence is read from every number source.
        sources: set[str] = set()
        found = number_source(intake, name)
        if found is None or name.endswith(_MISSING):
            sources.update(NUMBER_SOURCES)
        if found is not None:
            # The number itself, not only its object: a nested field may be stricter.
            sources.add(child_path(found, name))
        return frozenset(sources)
    return None


def _title_sources(intake: Mapping[str, Any]) -> tuple[str, ...]:
    # The ticket's title is the intake's text `title` or, without one, its text `summary`.
    title = intake.get("title")
    if not (isinstance(title, str) and title) and isinstance(intake.get("summary"), str):
        return ("title", "summary")
    return ("title",)


def title_readable(intake: Mapping[str, Any], view: FieldView) -> bool:
    """Whether this caller may read every field the ticket's title was taken from."""
    return all(view.readable(source) for source in _title_sources(intake))


def feature_readable(feature: str, intake: Mapping[str, Any], view: FieldView) -> bool:
    """Whether this caller may see the feature: every field it came from is readable."""
    sources = feature_sources(feature, intake)
    return sources is not None and all(view.readable(s) for s in sources)


def shown_features(
    features: Sequence[Any], intake: Mapping[str, Any], view: FieldView
) -> list[dict[str, Any]]:
    """The `{feature, weight}` entries this caller may see, in their order."""
    return [
        {"feature": f["feature"], "weight": f.get("weight")}
        for f in features
        if isinstance(f, Mapping)
        and isinstance(f.get("feature"), str)
        and feature_readable(f["feature"], intake, view)
    ]


def shown_triage_result(
    result: Mapping[str, Any], intake: Mapping[str, Any], view: FieldView
) -> dict[str, Any]:
    """A triage answer as this caller may see it (they may read ticket.triage)."""
    shown = {k: result[k] for k in _MODEL_OUTPUT if k in result}
    if "priority" in result and view.readable("priority"):
        shown["priority"] = result["priority"]
    if "top_features" in result:
        shown["top_features"] = shown_features(result["top_features"], intake, view)
    return shown
