"""The `ticketflow` command: migrate, users, definitions validate/publish."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from store.db import sync_url
from store.models import DefinitionRow, UserRow
from store.users import hash_token
from tests.builders import INCIDENT


def ticketflow(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the CLI against a data dir (its SQLite database)."""
    return subprocess.run(
        [sys.executable, "-m", "ticketflow", *args],
        env={**os.environ, "TICKETFLOW_DATA_DIR": str(data_dir)},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_users_add_prints_a_token_once_and_stores_its_hash(tmp_path: Path) -> None:
    assert ticketflow(tmp_path, "migrate").returncode == 0
    result = ticketflow(tmp_path, "users", "add", "otto", "--department", "ops", "--role", "agent")
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip()
    assert token.startswith("tf_")
    with Session(create_engine(sync_url(f"sqlite:///{tmp_path / 'ticketflow.db'}"))) as session:
        user = session.scalars(select(UserRow)).one()
        assert (user.name, user.department, user.role) == ("otto", "ops", "agent")
        assert user.token_hash == hash_token(token)
        assert token not in user.token_hash
    bad_role = ticketflow(tmp_path, "users", "add", "x", "--department", "d", "--role", "boss")
    assert bad_role.returncode == 2
    assert "unknown role" in bad_role.stderr


def test_definitions_validate_and_publish(tmp_path: Path) -> None:
    assert ticketflow(tmp_path, "migrate").returncode == 0
    good = tmp_path / "incident.yaml"
    good.write_text(yaml.safe_dump({k: v for k, v in INCIDENT.items() if k != "version"}))
    assert ticketflow(tmp_path, "definitions", "validate", str(good)).returncode == 0
    first = ticketflow(tmp_path, "definitions", "publish", str(good))
    second = ticketflow(tmp_path, "definitions", "publish", str(good))
    assert (first.stdout.strip(), second.stdout.strip()) == (
        "published incident@1",
        "published incident@2",
    )

    bad = tmp_path / "bad.json"
    document = {k: v for k, v in INCIDENT.items() if k != "version"}
    document["stages"] = [{"key": "a", "title": "A", "group": "g", "depends_on": ["a", "zz"]}]
    bad.write_text(json.dumps(document))
    result = ticketflow(tmp_path, "definitions", "publish", str(bad))
    assert result.returncode == 1
    report = json.loads(result.stderr.strip().splitlines()[-1])
    assert [e["pointer"] for e in report["errors"]] == [
        "/stages/0/depends_on/0",
        "/stages/0/depends_on/1",
    ]
    assert "Traceback" not in result.stderr

    garbage = tmp_path / "garbage.yaml"
    garbage.write_text("key: [unclosed")
    unparsable = ticketflow(tmp_path, "definitions", "validate", str(garbage))
    assert unparsable.returncode == 1
    assert "not valid YAML" in unparsable.stderr
    missing = ticketflow(tmp_path, "definitions", "validate", str(tmp_path / "nope.yaml"))
    assert missing.returncode == 1
    assert "cannot read" in missing.stderr

    with Session(create_engine(sync_url(f"sqlite:///{tmp_path / 'ticketflow.db'}"))) as session:
        versions = session.scalars(select(DefinitionRow.version)).all()
        assert sorted(versions) == [1, 2]
