"""Department sandboxes: process owners publish only the form fields the policy lets them define."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from api.problems import ProblemError
from domain.problems import Problem
from domain.ticket import Actor
from policies.access import AccessControl, ticket_domain
from policies.catalog import catalog_from_document
from policies.decisions import Subject

DEFINE = "define"


def _form_fields(document: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """(pointer, field name) of every form field in a resolved definition document."""
    forms = [("/intake_form", document.get("intake_form"))]
    forms += [
        (f"/stages/{i}/form", stage.get("form"))
        for i, stage in enumerate(document.get("stages", []))
        if isinstance(stage, dict)
    ]
    for at, form in forms:
        properties = form.get("properties") if isinstance(form, dict) else None
        if isinstance(properties, dict):
            for name in properties:
                yield f"{at}/properties/{name}", name


def require_definable_fields(
    access: AccessControl, actor: Actor, document: Mapping[str, Any]
) -> None:
    """403 naming every form field the publisher may not define in the definition's department."""
    catalog = catalog_from_document(document)
    subject = Subject(user=actor.user, role=actor.role, home=actor.department)
    decision = access.decision(subject, ticket_domain(str(document.get("department", "")), None))
    denied = [
        Problem(pointer=at, detail=f"may not define ticket.{name} here")
        for at, name in _form_fields(document)
        if not decision.allows(f"ticket.{name}", DEFINE, catalog.spec(name).sensitivity)
    ]
    if denied:
        raise ProblemError(
            403,
            f"you may not define these fields for department {document.get('department')!r}",
            problems=denied,
        )
