"""The `ticketflow` command: migrate, users, definitions, finding its stack, one-line errors."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from store.db import sync_url
from store.models import DefinitionRow, UserRow
from store.users import hash_token
from tests.builders import INCIDENT
from tests.devstack_util import cli_env, refusing_socket
from ticketflow.settings import StackState, load_settings, write_state


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


def _tf(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run the CLI with no TICKETFLOW_* variables but `env`, from a neutral directory."""
    return subprocess.run(
        [sys.executable, "-m", "ticketflow", *args],
        env={**cli_env(), **env},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_without_data_every_command_says_where_to_start(tmp_path: Path) -> None:
    document = tmp_path / "incident.yaml"
    document.write_text(yaml.safe_dump({k: v for k, v in INCIDENT.items() if k != "version"}))
    empty = tmp_path / "empty"
    empty.mkdir()
    for data_dir in (tmp_path / "missing", empty):
        for command in (
            ("users", "add", "otto", "--department", "ops", "--role", "agent"),
            ("users", "rotate-token", "otto"),
            ("audit", "verify"),
            ("definitions", "publish", str(document)),
            ("triage", "models"),
        ):
            result = _tf("--data-dir", str(data_dir), *command)
            assert result.returncode == 1, (command, result.stderr)
            assert result.stderr == (
                f"ticketflow: no Ticketflow data in {data_dir}; start `ticketflow dev "
                f"--data-dir {data_dir}` or pass --data-dir\n"
            ), command


@pytest.fixture
def refused_ports() -> Iterator[Callable[[], int]]:
    """Ports that refuse connections until the test ends (a freed port could be taken)."""
    held: list[socket.socket] = []

    def port() -> int:
        held.append(refusing_socket())
        number: int = held[-1].getsockname()[1]
        return number

    yield port
    for holder in held:
        holder.close()


def test_the_state_file_finds_the_stack_and_flags_and_variables_win(
    tmp_path: Path, refused_ports: Callable[[], int]
) -> None:
    stack_dir, elsewhere, other = tmp_path / "stack", tmp_path / "elsewhere", tmp_path / "other"
    for data_dir in (stack_dir, elsewhere, other):
        assert _tf("--data-dir", str(data_dir), "migrate").returncode == 0
    closed = refused_ports()
    write_state(
        stack_dir,
        StackState(
            database_url=f"sqlite:///{elsewhere / 'ticketflow.db'}",
            temporal_address=f"127.0.0.1:{closed}",
            temporal_namespace="tf-dev",
            task_queue="tickets",
            api_url="http://127.0.0.1:8000",
            pid=1,
        ),
    )
    added = _tf(
        "--data-dir",
        str(stack_dir),
        "users",
        "add",
        "otto",
        "--department",
        "ops",
        "--role",
        "agent",
    )
    assert added.returncode == 0, added.stderr
    assert _user_names(elsewhere) == ["otto"]
    assert _user_names(stack_dir) == []

    other_url = f"sqlite:///{other / 'ticketflow.db'}"
    added = _tf(
        "--data-dir",
        str(stack_dir),
        "users",
        "add",
        "dana",
        "--department",
        "ops",
        "--role",
        "agent",
        TICKETFLOW_DATABASE_URL=other_url,
    )
    assert added.returncode == 0, added.stderr
    assert _user_names(other) == ["dana"]

    # Training never falls back to whatever listens on 7233: it goes to the stack's Temporal.
    trained = _tf("--data-dir", str(stack_dir), "triage", "train")
    assert trained.returncode == 1
    assert trained.stderr == (
        f"ticketflow: cannot reach Temporal at 127.0.0.1:{closed} (namespace tf-dev); start "
        f"`ticketflow dev --data-dir {stack_dir}` or pass --temporal-address\n"
    )
    by_env, by_flag = refused_ports(), refused_ports()
    env = {"TICKETFLOW_TEMPORAL_ADDRESS": f"127.0.0.1:{by_env}"}
    assert (
        f"127.0.0.1:{by_env} " in _tf("--data-dir", str(stack_dir), "triage", "train", **env).stderr
    )
    flagged = _tf(
        "--data-dir",
        str(stack_dir),
        "--temporal-address",
        f"127.0.0.1:{by_flag}",
        "triage",
        "train",
        **env,
    )
    assert f"127.0.0.1:{by_flag} " in flagged.stderr


def test_settings_precedence_flags_then_variables_then_state_then_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in [k for k in os.environ if k.startswith("TICKETFLOW_")]:
        monkeypatch.delenv(name)
    assert load_settings(data_dir=tmp_path).temporal_address == "127.0.0.1:7233"
    write_state(
        tmp_path,
        StackState(
            database_url="sqlite:///state.db",
            temporal_address="127.0.0.1:7300",
            temporal_namespace="ns",
            task_queue="q",
            api_url="http://127.0.0.1:8100",
            pid=1,
        ),
    )
    from_state = load_settings(data_dir=tmp_path)
    assert (from_state.temporal_address, from_state.database_url, from_state.task_queue) == (
        "127.0.0.1:7300",
        "sqlite:///state.db",
        "q",
    )
    monkeypatch.setenv("TICKETFLOW_TEMPORAL_ADDRESS", "127.0.0.1:7400")
    assert load_settings(data_dir=tmp_path).temporal_address == "127.0.0.1:7400"
    flagged = load_settings(data_dir=tmp_path, temporal_address="127.0.0.1:7500")
    assert flagged.temporal_address == "127.0.0.1:7500"
    assert flagged.temporal_namespace == "ns"
    monkeypatch.setenv("TICKETFLOW_DATA_DIR", str(tmp_path))
    assert load_settings().task_queue == "q"


def test_triage_models_with_an_empty_registry_says_so(tmp_path: Path) -> None:
    assert _tf("--data-dir", str(tmp_path), "migrate").returncode == 0
    result = _tf("--data-dir", str(tmp_path), "triage", "models")
    assert (result.returncode, result.stdout) == (0, "")
    assert result.stderr == "no models yet; train one with `ticketflow triage train`\n"


def _user_names(data_dir: Path) -> list[str]:
    with Session(create_engine(sync_url(f"sqlite:///{data_dir / 'ticketflow.db'}"))) as session:
        return list(session.scalars(select(UserRow.name)).all())


def test_whatif_reports_on_a_published_definition_and_refuses_unknown_ones(
    tmp_path: Path,
) -> None:
    assert ticketflow(tmp_path, "migrate").returncode == 0
    good = tmp_path / "incident.yaml"
    good.write_text(yaml.safe_dump({k: v for k, v in INCIDENT.items() if k != "version"}))
    assert ticketflow(tmp_path, "definitions", "publish", str(good)).returncode == 0
    ran = ticketflow(tmp_path, "whatif", "--definition", "incident@1", "--since", "2026-01-01")
    assert ran.returncode == 0, ran.stderr
    report = json.loads(ran.stdout)
    assert (report["tickets_checked"], report["tickets"], report["breaches_gained"]) == (0, [], 0)
    unknown = ticketflow(tmp_path, "whatif", "--definition", "nope@1", "--since", "2026-01-01")
    assert unknown.returncode == 2
    assert "no published definition nope@1" in unknown.stderr
    no_calendar = ticketflow(
        tmp_path,
        "whatif",
        "--definition",
        "incident",
        "--calendar",
        "office@3",
        "--since",
        "2026-01-01",
    )
    assert no_calendar.returncode == 2
    assert "no published calendar office@3" in no_calendar.stderr
    bad_date = ticketflow(tmp_path, "whatif", "--definition", "incident", "--since", "soon")
    assert bad_date.returncode == 2
    assert "not an ISO 8601 date" in bad_date.stderr
