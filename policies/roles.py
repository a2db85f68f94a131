"""Roles and the endpoints each may use; which tickets and fields each sees is the Casbin policy."""

from __future__ import annotations

REQUESTER = "requester"
AGENT = "agent"
PROCESS_OWNER = "process_owner"
AUDITOR = "auditor"
ADMIN = "admin"
SYSTEM = "system"

ROLES: dict[str, str] = {
    REQUESTER: "files tickets and follows their own",
    AGENT: "works tasks of their department (service desk, ops, dev, field engineers)",
    PROCESS_OWNER: "authors and publishes forms and process definitions",
    AUDITOR: "reads every ticket and its history, changes nothing",
    ADMIN: "everything",
    SYSTEM: "an outside system: creates tickets and signals running ones",
}

CREATE_TICKETS = (REQUESTER, AGENT, PROCESS_OWNER, SYSTEM)
PUBLISH = (PROCESS_OWNER,)
WORK_TASKS = (AGENT,)
SIGNAL = (SYSTEM,)
# Aggregate KPIs (counts and durations, no ticket's fields): everyone but requesters.
READ_KPIS = (AGENT, PROCESS_OWNER, AUDITOR, SYSTEM)


def may_change_ticket(role: str, *, own: bool) -> bool:
    """Agents and admins change any ticket; auditors none; everyone else only their own."""
    if role in (ADMIN, AGENT):
        return True
    return role != AUDITOR and own
