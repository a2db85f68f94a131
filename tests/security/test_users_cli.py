"""`ticketflow users add` never changes an existing user; rotating and updating are explicit.

Before, adding a name that existed silently gave it a new token (locking its owner out) and
replaced its role and department: `users add rita --role admin` made the requester an admin.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from store.db import sync_url
from store.models import UserRow
from store.users import hash_token
from tests.test_cli import ticketflow


def _users(data_dir: Path) -> dict[str, tuple[str, str, str]]:
    engine = create_engine(sync_url(f"sqlite:///{data_dir / 'ticketflow.db'}"))
    try:
        with Session(engine) as session:
            return {
                u.name: (u.department, u.role, u.token_hash)
                for u in session.scalars(select(UserRow))
            }
    finally:
        engine.dispose()


def test_adding_an_existing_user_is_refused_and_changes_nothing(tmp_path: Path) -> None:
    assert ticketflow(tmp_path, "migrate").returncode == 0
    added = ticketflow(
        tmp_path, "users", "add", "rita", "--department", "sales", "--role", "requester"
    )
    assert added.returncode == 0, added.stderr
    token = added.stdout.strip()

    again = ticketflow(tmp_path, "users", "add", "rita", "--department", "it", "--role", "admin")
    assert again.returncode != 0
    assert again.stdout == ""
    [message] = again.stderr.strip().splitlines()
    assert "users rotate-token" in message
    assert "users update" in message
    assert _users(tmp_path) == {"rita": ("sales", "requester", hash_token(token))}


def test_rotate_token_and_update_are_explicit(tmp_path: Path) -> None:
    assert ticketflow(tmp_path, "migrate").returncode == 0
    first = ticketflow(tmp_path, "users", "add", "otto", "--department", "ops", "--role", "agent")
    old = first.stdout.strip()

    rotated = ticketflow(tmp_path, "users", "rotate-token", "otto")
    assert rotated.returncode == 0, rotated.stderr
    new = rotated.stdout.strip()
    assert new.startswith("tf_")
    assert new != old
    assert _users(tmp_path)["otto"] == ("ops", "agent", hash_token(new))

    updated = ticketflow(tmp_path, "users", "update", "otto", "--department", "dev")
    assert updated.returncode == 0, updated.stderr
    assert updated.stdout == ""
    promoted = ticketflow(tmp_path, "users", "update", "otto", "--role", "process_owner")
    assert promoted.returncode == 0, promoted.stderr
    assert _users(tmp_path)["otto"] == ("dev", "process_owner", hash_token(new))

    for args in (
        ("rotate-token", "nobody"),
        ("update", "nobody", "--role", "agent"),
        ("update", "otto", "--role", "boss"),
        ("update", "otto"),
        ("update", "otto", "--department", "a,b"),
    ):
        refused = ticketflow(tmp_path, "users", *args)
        assert refused.returncode != 0, args
        assert refused.stdout == "", args
    assert _users(tmp_path)["otto"] == ("dev", "process_owner", hash_token(new))


def test_reserved_names_are_refused_by_the_cli(tmp_path: Path) -> None:
    assert ticketflow(tmp_path, "migrate").returncode == 0
    for name in ("admin", "auditor", "role:admin", "@owner", "sla"):
        refused = ticketflow(
            tmp_path, "users", "add", name, "--department", "sales", "--role", "requester"
        )
        assert refused.returncode != 0, name
        assert refused.stdout == "", name
        assert "Traceback" not in refused.stderr
    assert _users(tmp_path) == {}
