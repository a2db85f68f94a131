"""The policy a fresh install starts with (seeded by migration 0005_access)."""

from __future__ import annotations

# (sub, dom, obj, act, clearance, eft). "@owner" is whoever requested the ticket;
# "{home}" is the caller's own department.
DEFAULT_POLICIES: tuple[tuple[str, str, str, str, str, str], ...] = (
    # Requesters: their own tickets' public and internal fields, masked beyond that. They
    # write up to confidential, because an intake asks for their own phone or email; a
    # restricted field (ID number, salary) needs an explicit grant.
    ("@owner", "*", "ticket.*", "read", "internal", "allow"),
    ("@owner", "*", "ticket.*", "write", "confidential", "allow"),
    ("@owner", "*", "ticket.*", "read_masked", "restricted", "allow"),
    # Internal comments are for the handling groups, even on a requester's own ticket.
    ("requester", "*", "ticket.internal_comments", "write", "public", "deny"),
    # Agents: tickets their department owns or has a task in, up to confidential.
    ("agent", "{home}/*", "ticket.*", "read", "confidential", "allow"),
    ("agent", "{home}/*", "ticket.*", "write", "confidential", "allow"),
    ("agent", "{home}/*", "ticket.*", "read_masked", "restricted", "allow"),
    # Auditors read everything except restricted fields, and write nothing.
    ("auditor", "*", "ticket.*", "read", "confidential", "allow"),
    # Process owners and systems follow every ticket, as before field-level policies.
    ("process_owner", "*", "ticket.*", "read", "internal", "allow"),
    ("system", "*", "ticket.*", "read", "internal", "allow"),
    # Department sandboxes: which form fields process owners may put in definitions, per
    # department (narrow to "{home}/*" to keep each department's owners to their own).
    ("process_owner", "*", "ticket.*", "define", "restricted", "allow"),
    # Admins: everything, including managing policies.
    ("admin", "*", "*", "*", "restricted", "allow"),
)

# Publishing definitions and forms directly rather than from an approved template (seeded by
# migration 0006_sandboxes). A department is sandboxed by denying it:
# "process_owner, <department>/*, definition.direct, publish, public, deny".
DIRECT_PUBLISHING: tuple[tuple[str, str, str, str, str, str], ...] = (
    ("process_owner", "*", "definition.direct", "publish", "restricted", "allow"),
)

# Role inheritance lines (user or role, role, domain); none by default.
DEFAULT_GROUPINGS: tuple[tuple[str, str, str], ...] = ()
