"""The role names on user accounts; what each may do is policies/authorization.py and the policy."""

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
