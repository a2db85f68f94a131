"""Department sandboxes: process owners publish only the form fields the policy lets them define,
and, in a sandboxed department, only from the library templates approved for it."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from api.problems import ProblemError
from domain.problems import Problem
from domain.ticket import Actor
from forms.library import Template
from policies.access import AccessControl, ticket_domain
from policies.authorization import is_exempt_from_sandbox
from policies.catalog import catalog_from_document
from policies.decisions import Subject

DEFINE = "define"
# Publishing a definition or form other than from a template: the caller's own department is
# the domain, so "process_owner, ops/*, definition.direct, publish, public, deny" sandboxes ops.
DIRECT, PUBLISH_ACTION = "definition.direct", "publish"
# Asked at the highest level so that any deny counts and only a full allow grants: a sandbox
# rule written with a clearance that happens to miss must not leave the department open.
DIRECT_LEVEL = "restricted"


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
    decision = access.decision(
        _subject(actor), ticket_domain(str(document.get("department", "")), None)
    )
    # A nested field (`contact.id_number`, `devices[].serial`) is defined with its top-level
    # field, at its own sensitivity: it is reported at that field's pointer.
    denied = [
        Problem(pointer=at, detail=f"may not define ticket.{path} here")
        for at, name in _form_fields(document)
        for path in (name, *(p for p in catalog.fields if p.startswith((name + ".", name + "["))))
        if not decision.allows(f"ticket.{path}", DEFINE, catalog.spec(path).sensitivity)
    ]
    if denied:
        raise ProblemError(
            403,
            f"you may not define these fields for department {document.get('department')!r}",
            problems=denied,
        )


def _subject(actor: Actor) -> Subject:
    return Subject(user=actor.user, role=actor.role, home=actor.department)


def template_approved(actor: Actor, template: Template) -> bool:
    """Whether the template is approved for the caller's department (admins: every template)."""
    return is_exempt_from_sandbox(actor.role) or actor.department in template.departments


def require_approved_template(actor: Actor, template: Template) -> None:
    """403 at /template unless the template is approved for the caller's department."""
    if not template_approved(actor, template):
        detail = (
            f"template {template.key!r} is not approved for department {actor.department!r}"
            f" (approved for {', '.join(template.departments)})"
        )
        raise ProblemError(403, detail, problems=[Problem(pointer="/template", detail=detail)])


def require_direct_publishing(access: AccessControl, actor: Actor) -> None:
    """403 when the caller's department is sandboxed: it publishes only from its templates."""
    if is_exempt_from_sandbox(actor.role):
        return
    decision = access.decision(_subject(actor), ticket_domain(actor.department, None))
    if not decision.allows(DIRECT, PUBLISH_ACTION, DIRECT_LEVEL):
        raise ProblemError(
            403,
            f"department {actor.department!r} is sandboxed: its process owners publish only"
            " from templates approved for it, with POST /definitions/from-template",
        )


def claimed_template(document: object) -> list[Problem]:
    """A problem at /template if a direct publish names one: only from-template records it."""
    if isinstance(document, dict) and document.get("template") is not None:
        detail = "set by POST /definitions/from-template: a direct publish cannot claim a template"
        return [Problem(pointer="/template", detail=detail)]
    return []
