"""The Casbin enforcer for field-level access: model, custom functions, file or database rules."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import casbin
from casbin.util.builtin_operators import key_match
from casbin_async_sqlalchemy_adapter import Adapter
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import PolicyRuleRow

MODEL_PATH = Path(__file__).with_name("model.conf")
SENSITIVITY = ("public", "internal", "confidential", "restricted")
DEFAULT_SENSITIVITY = "internal"
_LEVEL = {name: i for i, name in enumerate(SENSITIVITY)}


def covers(clearance: str, sensitivity: str) -> bool:
    """Whether a grant with this clearance reaches a field of this sensitivity."""
    have, need = _LEVEL.get(clearance), _LEVEL.get(sensitivity)
    return have is not None and need is not None and have >= need


def domain_match(domain: str, pattern: str, home: str) -> bool:
    """keyMatch of a ticket domain against a policy domain; "{home}" is the caller's department."""
    return bool(key_match(domain, pattern.replace("{home}", home)))


def _request_domain_match(domain: str, pattern: str, dept: str) -> bool:
    # The request carries the caller's department as its typed subject, "dept:<name>".
    return domain_match(domain, pattern, dept.removeprefix("dept:"))


def configure(enforcer: Any) -> Any:
    """Register the model's functions and wildcard domains for role links."""
    enforcer.add_function("covers", covers)
    enforcer.add_function("domainMatch", _request_domain_match)
    enforcer.add_named_domain_matching_func("g", key_match)
    return enforcer


def file_enforcer(policy_path: Path) -> Any:
    """An enforcer over a CSV policy file (tests and offline checks)."""
    return configure(casbin.Enforcer(str(MODEL_PATH), str(policy_path)))


def db_adapter(session: AsyncSession) -> Adapter:
    """The Casbin async SQLAlchemy adapter working inside this session's transaction."""
    bind = session.bind
    return Adapter(bind, db_class=PolicyRuleRow, db_session=session)


async def db_enforcer(session: AsyncSession) -> Any:
    """An enforcer loaded from the database rules, read through this session."""
    enforcer = casbin.AsyncEnforcer(str(MODEL_PATH), db_adapter(session))
    configure(enforcer)
    await enforcer.load_policy()
    # Domain matching for role links is applied when links are built: rebuild after loading.
    enforcer.build_role_links()
    return enforcer
