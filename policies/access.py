"""Per-process access control: the loaded policy, its version, and cached per-ticket views."""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from casbin.util.builtin_operators import key_match
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from policies.catalog import FieldCatalog, catalog_from_document
from policies.decisions import OWNER, Decision, ReadingDecision, Rule, Subject, decide
from policies.enforcer import db_enforcer
from policies.redaction import FieldView
from policies.subjects import about_tickets
from store.access import add_field_access, policy_version
from store.definitions import get_definition

SITE_FIELD = "site"
NO_SITE = "-"
# Read counting is sampled: one redaction in this many is counted, scaled up when flushed.
READ_SAMPLE = 8
_MAX_CACHED_VIEWS = 50_000
FLUSH_SECONDS = 60.0
# The counters' field column holds this much; a longer path (keys chosen by whoever writes the
# data) is not counted rather than failing the whole minute's flush.
MAX_COUNTED_FIELD = 200


def ticket_domain(department: str, intake: Mapping[str, Any] | None) -> str:
    """A ticket's policy domain: "<department>/<site>" (site from the intake, "-" if none)."""
    site = (intake or {}).get(SITE_FIELD)
    return f"{department}/{site if isinstance(site, str) and site else NO_SITE}"


def ticket_domains(
    department: str, intake: Mapping[str, Any] | None, groups: Iterable[str] = ()
) -> tuple[str, ...]:
    """The owning department's domain, then one per other handling department.

    Which departments handle a ticket is policies.authorization.handler_departments.
    """
    site = ticket_domain(department, intake).split("/", 1)[1]
    names = dict.fromkeys([department, *sorted(groups)])
    return tuple(f"{name}/{site}" for name in names)


@dataclass
class FieldUsage:
    """In-memory (role, field, action) counters, flushed to the database now and then."""

    counts: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    _tick: itertools.count[int] = field(default_factory=itertools.count)

    def read(self, view: FieldView) -> None:
        """Count the fields this view reveals (one call in READ_SAMPLE, scaled)."""
        if next(self._tick) % READ_SAMPLE:
            return
        for name in view.catalog.fields:
            if len(name) <= MAX_COUNTED_FIELD and view.readable(name):
                self.counts[(view.role, name, "read")] += READ_SAMPLE

    def wrote(self, role: str, fields: Iterable[str]) -> None:
        """Count written fields (every write)."""
        for name in fields:
            if len(name) <= MAX_COUNTED_FIELD:
                self.counts[(role, name, "write")] += 1

    def drain(self) -> dict[tuple[str, str, str], int]:
        """The counts so far, resetting them."""
        drained, self.counts = dict(self.counts), Counter()
        return drained


@dataclass(frozen=True)
class ListScope:
    """Tickets a list may hold: all, or those requested by the caller and/or of departments."""

    everything: bool = False
    own: bool = False
    departments: tuple[str, ...] = ()


class AccessControl:
    """The enforcer this process decides with, reloaded whenever the policy version moves."""

    def __init__(self) -> None:
        self.version = -1
        self.enforcer: Any = None
        self.rules: tuple[Rule, ...] = ()
        self.usage = FieldUsage()
        self._decisions: dict[tuple[Subject, str], Decision] = {}
        self._views: dict[tuple[Subject, tuple[str, ...], tuple[str, ...], str], FieldView] = {}
        self._catalogs: dict[tuple[str, int], FieldCatalog] = {}
        self._lock = asyncio.Lock()

    def install(self, enforcer: Any, version: int) -> None:
        """Decide with this enforcer from now on (never with an older version than before)."""
        if version < self.version:
            return
        self.enforcer, self.version = enforcer, version
        self.rules = tuple(Rule.from_line(line) for line in enforcer.get_policy())
        self._decisions, self._views = {}, {}

    async def refresh(self, session: AsyncSession, *, version: int | None = None) -> None:
        """Reload if another change (in any process) moved the version; called per request.

        `version` is the current version when the caller has just read it.
        """
        if version is None:
            version = await policy_version(session=session)
        if version == self.version:
            return
        async with self._lock:
            if version <= self.version:
                return
            # The version was read before the rules, so what loads is this version or newer;
            # a newer one moves the counter again and the next request reloads.
            self.install(await db_enforcer(session), version)

    async def catalog(self, session: AsyncSession, key: str, version: int) -> FieldCatalog:
        """The field catalog of a definition version (published versions never change)."""
        cached = self._catalogs.get((key, version))
        if cached is None:
            row = await get_definition(session=session, key=key, version=version)
            if row is None:  # not cached: the version may yet be published
                return catalog_from_document({}, ident=f"{key}@{version}?")
            cached = catalog_from_document(row.document, ident=f"{key}@{version}")
            self._catalogs[(key, version)] = cached
        return cached

    def list_scope(self, subject: Subject) -> ListScope:
        """Which tickets a list may contain, over-approximated so SQL can pre-filter them.

        Role links are followed regardless of their domain and every domain pattern is read
        by its department part only: that can only widen the scope; each listed ticket is then
        decided exactly.
        """
        links = self.enforcer.get_grouping_policy() if self.enforcer is not None else []
        user, role, _relation, dept = subject.principals
        held = {user, role, dept}
        grew = True
        while grew:
            more = {line[1] for line in links if line[0] in held} - held
            held |= more
            grew = bool(more)
        own = False
        departments: set[str] = set()
        for rule in self.rules:
            reads = key_match("read", rule.act) or key_match("read_masked", rule.act)
            # Rules on other objects (customer fields, definitions) open no ticket.
            if rule.eft != "allow" or not reads or not about_tickets(rule.obj):
                continue
            if rule.sub == OWNER:
                own = True
            elif rule.sub in held:
                department = rule.dom.replace("{home}", subject.home).split("/", 1)[0]
                if "*" in department:
                    return ListScope(everything=True)
                departments.add(department)
        return ListScope(own=own, departments=tuple(sorted(departments)))

    def decision(self, subject: Subject, domain: str) -> Decision:
        """The cached decision for a subject in a domain."""
        found = self._decisions.get((subject, domain))
        if found is None:
            found = decide(self.enforcer, self.rules, subject, domain)
            self._decisions[(subject, domain)] = found
        return found

    def view(
        self,
        subject: Subject,
        domains: Sequence[str],
        catalog: FieldCatalog,
        reading: Sequence[str] = (),
    ) -> FieldView:
        """What this subject may do with a ticket in these domains (and read in `reading`)."""
        key = (subject, tuple(domains), tuple(reading), catalog.ident)
        found = self._views.get(key)
        if found is None:
            if len(self._views) > _MAX_CACHED_VIEWS:
                self._views, self._decisions = {}, {}
            decisions = tuple(self.decision(subject, d) for d in domains) + tuple(
                ReadingDecision(rules=self.decision(subject, d).rules) for d in reading
            )
            found = FieldView(decisions=decisions, catalog=catalog, role=subject.role)
            self._views[key] = found
        return found


async def flush_usage(*, usage: FieldUsage, session: AsyncSession) -> None:
    """Write the counted field uses to the database and commit."""
    counts = usage.drain()
    if counts:
        await add_field_access(session=session, counts=counts, now=datetime.now(UTC))
        await session.commit()


async def flush_usage_until(
    stop: asyncio.Event,
    *,
    usage: FieldUsage,
    sessions: async_sessionmaker[AsyncSession],
    every: float = FLUSH_SECONDS,
) -> None:
    """Flush counters every `every` seconds until `stop` is set, then once more."""
    while not stop.is_set():
        with suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=every)
        try:
            async with sessions() as session:
                await flush_usage(usage=usage, session=session)
        except SQLAlchemyError:
            # Counts only feed recommendations: a lost minute must not stop the API.
            logging.getLogger("ticketflow.access").warning(
                "field access counts could not be flushed", exc_info=True
            )
