"""The default policy as a fresh install seeds it, views of it, and `enforce` as the oracle."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import casbin

from api.ticket_access import subject_of
from domain.ticket import Actor
from policies.access import AccessControl, ticket_domains
from policies.catalog import FieldCatalog, ancestors
from policies.enforcer import MODEL_PATH, configure, db_enforcer
from policies.redaction import FieldView
from tests.dbutil import migrated_sessions, sqlite_url

# The callers every exit is checked for; the ticket's requester is rita.
CALLERS: dict[str, Actor] = {
    "rita": Actor(user="rita", department="sales", role="requester"),
    "sam": Actor(user="sam", department="sales", role="requester"),
    "dana": Actor(user="dana", department="service-desk", role="agent"),
    "otto": Actor(user="otto", department="ops", role="agent"),
    "audrey": Actor(user="audrey", department="audit", role="auditor"),
    "owner": Actor(user="owner", department="process-office", role="process_owner"),
    "monitor": Actor(user="monitor", department="it", role="system"),
    "root": Actor(user="root", department="it", role="admin"),
}
REQUESTER = "rita"
DEPARTMENT = "service-desk"


async def seeded_enforcer(directory: Path) -> Any:
    """The enforcer over the rules the migrations seed into a fresh database."""
    async with migrated_sessions(sqlite_url(directory)) as sessions, sessions() as session:
        return await db_enforcer(session)


def with_rules(base: Any, rules: Iterable[Sequence[str]] = ()) -> Any:
    """An in-memory enforcer holding `base`'s rules and role links plus these `p` rules."""
    enforcer = configure(casbin.Enforcer(str(MODEL_PATH)))
    for line in [*base.get_policy(), *rules]:
        enforcer.add_policy(*line)
    for line in base.get_grouping_policy():
        enforcer.add_grouping_policy(*line)
    enforcer.build_role_links()
    return enforcer


def access_control(enforcer: Any) -> AccessControl:
    """An access control deciding with this enforcer."""
    access = AccessControl()
    access.install(enforcer, version=1)
    return access


def view_of(
    access: AccessControl,
    caller: str,
    catalog: FieldCatalog,
    *,
    intake: dict[str, Any] | None = None,
    groups: Iterable[str] = (),
) -> FieldView:
    """The caller's view of a ticket rita filed in service-desk."""
    actor = CALLERS[caller]
    subject = subject_of(actor, owner=actor.user == REQUESTER)
    return access.view(subject, ticket_domains(DEPARTMENT, intake, groups), catalog)


class Oracle:
    """`Enforcer.enforce` for a caller on a ticket: is a field path readable in clear?"""

    def __init__(
        self,
        enforcer: Any,
        caller: str,
        catalog: FieldCatalog,
        *,
        intake: dict[str, Any] | None = None,
        groups: Iterable[str] = (),
    ) -> None:
        actor = CALLERS[caller]
        subject = subject_of(actor, owner=actor.user == REQUESTER)
        # The request as the model defines it: (user, role, relation, dept, domain, obj, ...).
        self.request = subject.principals
        self.domains = ticket_domains(DEPARTMENT, intake, groups)
        self.enforcer, self.catalog = enforcer, catalog
        self._memo: dict[str, bool] = {}

    def allows(self, path: str, action: str = "read") -> bool:
        """The enforcer's answer for this path alone, in any of the ticket's domains."""
        sensitivity = self.catalog.spec(path).sensitivity
        return any(
            self.enforcer.enforce(*self.request, d, "ticket." + path, action, sensitivity)
            for d in self.domains
        )

    def reads(self, path: str) -> bool:
        """Whether the path and every object it is inside of are readable in clear."""
        found = self._memo.get(path)
        if found is None:
            found = all(self.allows(p) for p in (path, *ancestors(path)))
            self._memo[path] = found
        return found
