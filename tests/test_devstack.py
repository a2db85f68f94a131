"""`ticketflow dev`: port checks, the Temporal command line, clean Ctrl-C, restart keeps data."""

from __future__ import annotations

import asyncio
import itertools
import json
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
from temporalio.client import Client

from tests.devstack_util import (
    HOST,
    READY_TIMEOUT,
    STOP_TIMEOUT,
    dev_command,
    dev_stack,
    free_port,
    free_temporal_port,
    processes_mentioning,
    temporal_cli,
)
from ticketflow.temporal_client import ensure_search_attributes
from ticketflow.temporal_server import (
    dev_server_command,
    port_accepts,
    port_in_use,
    temporal_binary,
    wait_for_port,
)
from workflows import search_attributes


async def connect_when_up(address: str) -> Client:
    """A client for a server that is still starting."""
    deadline = time.monotonic() + READY_TIMEOUT
    while True:
        try:
            return await Client.connect(address)
        except RuntimeError:
            if time.monotonic() >= deadline:
                raise
            await asyncio.sleep(0.1)


@pytest.mark.parametrize("busy", ["api", "temporal", "ui"])
def test_dev_refuses_a_port_in_use(tmp_path: Path, busy: str) -> None:
    api_port, temporal_port = free_port(), free_temporal_port()
    port, flag = {
        "api": (api_port, "--port"),
        "temporal": (temporal_port, "--temporal-port"),
        "ui": (temporal_port + 1000, "--temporal-port"),
    }[busy]
    with socket.socket() as squatter:
        squatter.bind((HOST, port))
        squatter.listen()
        result = subprocess.run(
            dev_command(tmp_path / "data", api_port, temporal_port),
            cwd=tmp_path,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 2, result.stderr
    assert str(port) in result.stderr
    assert flag in result.stderr
    assert "Traceback" not in result.stderr


def test_dev_server_command_uses_wal_and_registers_every_search_attribute(tmp_path: Path) -> None:
    command = dev_server_command(
        binary=Path("/bin/temporal"), db_file=tmp_path / "temporal.db", port=7300, ui_port=8300
    )
    pairs = list(itertools.pairwise(command))
    assert command[:3] == ["/bin/temporal", "server", "start-dev"]
    assert ("--db-filename", str(tmp_path / "temporal.db")) in pairs
    assert ("--sqlite-pragma", "journal_mode=wal") in pairs
    assert ("--sqlite-pragma", "synchronous=normal") in pairs
    assert ("--ip", "127.0.0.1") in pairs
    assert ("--port", "7300") in pairs
    assert ("--ui-port", "8300") in pairs
    assert "--headless" not in command
    assert ("--search-attribute", "TicketflowDepartments=KeywordList") in pairs
    for key in search_attributes.ALL:
        assert any(a == "--search-attribute" and b.startswith(f"{key.name}=") for a, b in pairs)


def test_port_probes() -> None:
    with socket.socket() as server:
        server.bind((HOST, 0))
        server.listen()
        port = server.getsockname()[1]
        assert port_in_use(HOST, port)
        assert port_accepts(HOST, port)
        assert wait_for_port(HOST, port, timeout=1)
    assert not port_in_use(HOST, port)
    assert not wait_for_port(HOST, port, timeout=0.3)


@pytest.mark.e2e
async def test_missing_search_attributes_are_registered(tmp_path: Path) -> None:
    port = free_temporal_port()
    command = dev_server_command(
        binary=temporal_binary(), db_file=tmp_path / "temporal.db", port=port, ui_port=port + 1000
    )
    # Drop the flags: the state of a temporal.db created before these attributes existed.
    while "--search-attribute" in command:
        at = command.index("--search-attribute")
        del command[at : at + 2]
    server = await asyncio.create_subprocess_exec(
        *command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        client = await connect_when_up(f"{HOST}:{port}")
        expected = sorted(key.name for key in search_attributes.ALL)
        assert await ensure_search_attributes(client) == expected
        assert await ensure_search_attributes(client) == []
    finally:
        server.send_signal(signal.SIGINT)
        try:
            await asyncio.wait_for(server.wait(), STOP_TIMEOUT)
        except TimeoutError:
            server.kill()
            await server.wait()


@pytest.mark.e2e
def test_ctrl_c_stops_every_process(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with dev_stack(tmp_path, data_dir, "run") as stack:
        banner = stack.log()
        assert f"http://127.0.0.1:{stack.api_port}/docs" in banner
        assert f"http://127.0.0.1:{stack.temporal_port + 1000}" in banner
        assert str(data_dir) in banner
        assert stack.stop() == 0, stack.log()
        for port in (stack.api_port, stack.temporal_port, stack.temporal_port + 1000):
            assert not port_accepts(HOST, port), f"port {port} still open"
        assert processes_mentioning(str(data_dir)) == []
        assert "Traceback" not in stack.log()


@pytest.mark.e2e
def test_restart_keeps_temporal_and_app_data(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with dev_stack(tmp_path, data_dir, "first") as stack:
        assert (data_dir / "temporal.db").is_file()
        assert (data_dir / "ticketflow.db").is_file()
        # A workflow on a queue no worker polls stays open, so it must survive the restart.
        temporal_cli(
            stack.temporal_port,
            "workflow",
            "start",
            "--type",
            "RestartProbe",
            "--task-queue",
            "devstack-test",
            "--workflow-id",
            "restart-probe",
        )
        assert stack.stop() == 0, stack.log()
    with dev_stack(tmp_path, data_dir, "second") as stack:
        listed = json.loads(temporal_cli(stack.temporal_port, "workflow", "list", "-o", "json"))
        assert "restart-probe" in [run["execution"]["workflowId"] for run in listed]
        attributes = temporal_cli(stack.temporal_port, "operator", "search-attribute", "list")
        for key in search_attributes.ALL:
            assert key.name in attributes
        assert stack.stop() == 0, stack.log()
