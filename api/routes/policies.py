"""The policy API (admins only): rules, role assignments, least-privilege recommendations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, status
from pydantic import BaseModel, Field

from api.deps import AccessDep, ActorDep, SessionDep, require_roles
from api.problems import ProblemError
from api.schemas import Strict
from policies.access import flush_usage
from policies.authorization import MANAGE_POLICIES
from policies.catalog import catalog_from_document
from policies.management import NoSuchRule, RuleExists, change_rule, rule_document
from policies.recommendations import recommend
from store import access as store
from store.definitions import list_definitions

router = APIRouter(tags=["policies"], dependencies=[Depends(require_roles(*MANAGE_POLICIES))])

# Rule values are stored as one CSV line per rule: no commas, no blanks.
Value = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[^,\s]+$")]


class PolicyRequest(Strict):
    """A grant or denial: subject (user, role or @owner) may act on objects in a domain."""

    subject: Value
    domain: Value = "*"
    object: Value = Field(
        description="ticket.<field> (keyMatch wildcards allowed: ticket.*), or definition.direct"
    )
    action: Literal["read", "read_masked", "write", "define", "publish", "*"]
    clearance: Literal["public", "internal", "confidential", "restricted"] = "internal"
    effect: Literal["allow", "deny"] = "allow"
    reason: str = Field(min_length=1, max_length=2000)


class RoleRequest(Strict):
    """A user (or role) holds a role in a domain ("*" for every domain)."""

    user: Value
    role: Value
    domain: Value = "*"
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
    version = await store.policy_version(session=session)
    await session.commit()
    return PolicyChanged(audit_seq=seq, version=version)


def _policy_rule(body: PolicyRequest) -> list[str]:
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
async def remove_policy(body: PolicyRequest, session: SessionDep, actor: ActorDep) -> PolicyChanged:
    """Remove a rule (the body names it exactly, with the reason for removing it)."""
    rule = _policy_rule(body)
    return await _change(session, actor.user, "p", rule, add=False, reason=body.reason)


@router.get("/policies/roles")
async def list_roles(session: SessionDep) -> list[dict[str, str]]:
    """Every role assignment (g rules)."""
    return [rule_document("g", r) for r in await store.list_rules(session=session, ptype="g")]


@router.post("/policies/roles", status_code=status.HTTP_201_CREATED, response_model=PolicyChanged)
async def assign_role(body: RoleRequest, session: SessionDep, actor: ActorDep) -> PolicyChanged:
    """Give a user (or role) a role in a domain."""
    rule = [body.user, body.role, body.domain]
    return await _change(session, actor.user, "g", rule, add=True, reason=body.reason)


@router.delete("/policies/roles", response_model=PolicyChanged)
async def unassign_role(body: RoleRequest, session: SessionDep, actor: ActorDep) -> PolicyChanged:
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
    """Least-privilege proposals for a role; nothing is changed."""
    await flush_usage(usage=access.usage, session=session)
    since = datetime.now(UTC) - timedelta(days=unused_days)
    uses = await store.field_use_since(session=session, role=role, since=since)
    catalogs = [
        catalog_from_document(row.document, ident=f"{row.key}@{row.version}")
        for row in await list_definitions(session=session)
    ]
    proposal = recommend(role=role, rules=access.rules, uses=uses, catalogs=catalogs)
    return {**proposal, "unused_days": unused_days, "since": since.isoformat()}
