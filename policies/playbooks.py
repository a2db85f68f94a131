"""What a caller sees of a playbook: governed like the deliverable version it came from."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from policies.catalog import DELIVERABLES, child_path
from policies.redaction import KEEP, PLAYBOOK_LINK_SHAPE, FieldView

# Always shown to whoever may list playbooks: which exists, for what, of which kind, since when.
PLAYBOOK_SHAPE: dict[str, Any] = {"id": KEEP, "category": KEEP, "kind": KEEP, "created_at": KEEP}
# The rest is the deliverable's: its title (the promoter's words about it), where it came
# from, who promoted it, and its content. A ticket lists playbooks without their content.
GOVERNED_SHAPE: dict[str, Any] = {**PLAYBOOK_LINK_SHAPE, "content": KEEP}


def source_field(deliverable: str) -> str:
    """The ticket field whose readers read a playbook made of this deliverable."""
    return child_path(DELIVERABLES, deliverable)


def may_read_playbook(deliverable: str, source: FieldView | None) -> bool:
    """Whether a caller with this view of a playbook's source ticket reads all of it.

    `source` is None when the caller may not see that ticket at all (or it is gone).
    """
    return source is not None and source.visible() and source.readable(source_field(deliverable))


def redact_playbook(playbook: Mapping[str, Any], source: FieldView | None) -> dict[str, Any]:
    """The playbook as a caller with this view of its source ticket may see it.

    Whoever may not read the deliverable sees only what PLAYBOOK_SHAPE keeps; keys neither
    shape declares are never shown.
    """
    readable = may_read_playbook(str(playbook.get("deliverable", "")), source)
    shape = GOVERNED_SHAPE if readable else PLAYBOOK_SHAPE
    return {key: value for key, value in playbook.items() if shape.get(key) == KEEP}
