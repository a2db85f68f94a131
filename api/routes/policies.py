"""The policy API (admins only): rules, role assignments, least-privilege recommendations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, status
from pydantic import BaseModel, Field

from api.deps import AccessDep, ActorDep, SessionDep, require_roles
from api.problems import ProblemError
from api.schemas import Strict
from domain.problems import Problem
from policies.access import flush_usage
from policies.authorization import MANAGE_POLICIES
from policies.catalog import catalog_from_document
from policies.management import InvalidRule, NoSuchRule, RuleExists, change_rule, rule_document
from policies.recommendations import recommend
from policies.subjects import (
    DOMAIN_PATTERN,
    HOLDER_PATTERN,
    LINK_DOMAIN_PATTERN,
    MAX_VALUE,
    MEMBER_PATTERN,
    OBJECT_PATTERN,
    SUBJECT_PATTERN,
)
from store import access as store
from store.definitions import list_definitions

router = APIRouter(tags=["policies"], dependencies=[Depends(require_roles(*MANAGE_POLICIES))])

# Rule values are stored as one policy line per rule and parsed back by Casbin: each column
# has the strict grammar of policies.subjects, so no value can break the loading of the policy.
Subject = Annotated[
    str,
    Field(
        max_length=MAX_VALUE,
        pattern=SUBJECT_PATTERN,
        description="@owner, or a typed subject: user:<name>, role:<name>, group:<name>,"
        " dept:<name> (every member of that department)",
        examples=["role:agent", "user:carol", "group:night-shift", "dept:hr", "@owner"],
    ),
]
Domain = Annotated[
    str,
    Field(
        max_length=MAX_VALUE,
        pattern=DOMAIN_PATTERN,
        description='"*" or <department>/<site> keyMatch patterns; {home} is the caller\'s own',
    ),
]
Object = Annotated[
    str,
    Field(
        max_length=MAX_VALUE,
        pattern=OBJECT_PATTERN,
        description="ticket.<field> or customer.<field> (keyMatch wildcards allowed: ticket.*),"
        " or definition.direct",
    ),
]
Member = Annotated[
    str,
    Field(
        max_length=MAX_VALUE,
        pattern=MEMBER_PATTERN,
        description="who holds the role: user:<name>, role:<name>, group:<name> or dept:<name>",
    ),
]
Holder = Annotated[
    str,
    Field(max_length=MAX_VALUE, pattern=HOLDER_PATTERN, description="role:<name> or group:<name>"),
]
LinkDomain = Annotated[str, Field(max_length=MAX_VALUE, pattern=LINK_DOMAIN_PATTERN)]
# Removal names a stored rule as it is, so rules stored before the grammar can still go.
Stored = Annotated[str, Field(min_length=1, max_length=255)]
Action = Literal["read", "read_masked", "write", "define", "publish", "*"]
Clearance = Literal["public", "internal", "confidential", "restricted"]


class PolicyRequest(Strict):
    """A grant or denial: subject (typed, or @owner) may act on objects in a domain."""

    subject: Subject
    domain: Domain = "*"
    object: Object
    action: Action
    clearance: Clearance = "internal"
    effect: Literal["allow", "deny"] = "allow"
    reason: str = Field(min_length=1, max_length=2000)


class PolicyRemoval(Strict):
    """The rule to remove, exactly as listed by GET /policies, and why."""

    subject: Stored
    domain: Stored = "*"
    object: Stored
    action: Stored
    clearance: Stored = "internal"
    effect: Stored = "allow"
    reason: str = Field(min_length=1, max_length=2000)


class RoleRequest(Strict):
    """A typed subject holds a role (or belongs to a group) in a domain ("*" for every one)."""

    user: Member
    role: Holder
    domain: LinkDomain = "*"
    reason: str = Field(min_length=1, max_length=2000)


class RoleRemoval(Strict):
    """The role link to remove, exactly as listed, and why."""

    user: Stored
    role: Stored
    domain: Stored = "*"
    reason: str = Field(min_length=1, max_length=2000)


class PolicyChanged(BaseModel):
    """The audit entry a change made and the policy version it produced."""

    audit_seq: int
    version: int


async def _change(
    session: SessionDep, actor: str, ptype: str, rule: list[str], *, add: bool, reason: str
) -> PolicyChanged:
    try:
        seq = await change_rule(
            session=session,
            ptype=ptype,
            rule=rule,
            add=add,
            actor=actor,
            reason=reason,
            now=datetime.now(UTC),
        )
    except RuleExists as exc:
        raise ProblemError(409, str(exc)) from exc
    except NoSuchRule as exc:
        raise ProblemError(404, str(exc)) from exc
    except InvalidRule as exc:
        problems = [Problem(pointer=f"/{name}", detail=detail) for name, detail in exc.problems]
        raise ProblemError(422, "the rule cannot be stored", problems=problems) from exc
    version = await store.policy_version(session=session)
    await session.commit()
    return PolicyChanged(audit_seq=seq, version=version)


def _policy_rule(body: PolicyRequest | PolicyRemoval) -> list[str]:
    return [body.subject, body.domain, body.object, body.action, body.clearance, body.effect]


@router.get("/policies")
async def list_policies(session: SessionDep) -> dict[str, Any]:
    """Every rule and role assignment, with the policy version."""
    rules = await store.list_rules(session=session, ptype="p")
    roles = await store.list_rules(session=session, ptype="g")
    return {
        "version": await store.policy_version(session=session),
        "policies": [rule_document("p", r) for r in rules],
        "roles": [rule_document("g", r) for r in roles],
    }


@router.post("/policies", status_code=status.HTTP_201_CREATED, response_model=PolicyChanged)
async def add_policy(body: PolicyRequest, session: SessionDep, actor: ActorDep) -> PolicyChanged:
    """Add a rule; every API process decides with it from its next request."""
    rule = _policy_rule(body)
    return await _change(session, actor.user, "p", rule, add=True, reason=body.reason)


@router.delete("/policies", response_model=PolicyChanged)
async def remove_policy(body: PolicyRemoval, session: SessionDep, actor: ActorDep) -> PolicyChanged:
    """Remove a rule (the body names it exactly, with the reason for removing it)."""
    rule = _policy_rule(body)
    return await _change(session, actor.user, "p", rule, add=False, reason=body.reason)


@router.get("/policies/roles")
async def list_roles(session: SessionDep) -> list[dict[str, str]]:
    """Every role assignment (g rules)."""
    return [rule_document("g", r) for r in await store.list_rules(session=session, ptype="g")]


@router.post("/policies/roles", status_code=status.HTTP_201_CREATED, response_model=PolicyChanged)
async def assign_role(body: RoleRequest, session: SessionDep, actor: ActorDep) -> PolicyChanged:
    """Give a typed subject a role, or make it a member of a group, in a domain."""
    rule = [body.user, body.role, body.domain]
    return await _change(session, actor.user, "g", rule, add=True, reason=body.reason)


@router.delete("/policies/roles", response_model=PolicyChanged)
async def unassign_role(body: RoleRemoval, session: SessionDep, actor: ActorDep) -> PolicyChanged:
    """Take a role away."""
    rule = [body.user, body.role, body.domain]
    return await _change(session, actor.user, "g", rule, add=False, reason=body.reason)


@router.get("/policies/recommendations")
async def recommendations(
    session: SessionDep,
    access: AccessDep,
    role: Annotated[str, Query(min_length=1, max_length=100)],
    unused_days: Annotated[int, Query(ge=1, le=3650)] = 30,
) -> dict[str, Any]:
    """Least-privilege proposals for a role (its name, or its subject `role:<name>`)."""
    role = role.removeprefix("role:")
    await flush_usage(usage=access.usage, session=session)
    since = datetime.now(UTC) - timedelta(days=unused_days)
    uses = await store.field_use_since(session=session, role=role, since=since)
    catalogs = [
        catalog_from_document(row.document, ident=f"{row.key}@{row.version}")
        for row in await list_definitions(session=session)
    ]
    proposal = recommend(role=role, rules=access.rules, uses=uses, catalogs=catalogs)
    return {**proposal, "unused_days": unused_days, "since": since.isoformat()}
