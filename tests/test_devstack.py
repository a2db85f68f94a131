"""`ticketflow dev`: ports, the Temporal command line, Ctrl-C, restarts, healing, its lock."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import pty
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest
import yaml
from temporalio.client import Client

from tests.activities.devices.servers import modbus_device
from tests.api.test_devices_api import MODBUS
from tests.builders import INCIDENT
from tests.devstack_util import (
    HOST,
    READY_TIMEOUT,
    STOP_TIMEOUT,
    alive,
    children_of,
    command_line,
    dev_command,
    dev_stack,
    free_port,
    free_temporal_port,
    healthy,
    processes_mentioning,
    refusing_socket,
    temporal_cli,
    ticketflow_cli,
    wait_until,
)
from tests.test_end_to_end import INTAKE
from ticketflow.devstack import StackError, _wait_for_api, dev_allowed_hosts, restart_delay
from ticketflow.settings import Settings
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


def test_restart_delays_grow_and_are_capped() -> None:
    delays = [restart_delay(n) for n in range(1, 10)]
    assert delays[:4] == [0.5, 1.0, 2.0, 4.0]
    assert delays == sorted(delays)
    assert max(delays) == 30


def test_the_startup_wait_is_a_setting_and_its_failure_names_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert Settings().dev_startup_seconds == 60.0
    monkeypatch.setenv("TICKETFLOW_DEV_STARTUP_SECONDS", "240")
    assert Settings().dev_startup_seconds == 240.0
    holder = refusing_socket()
    try:
        port = holder.getsockname()[1]
        with pytest.raises(StackError, match=f"did not listen on port {port} within 0 s"):
            _wait_for_api(HOST, port, [], 0.2)
    finally:
        holder.close()


def test_dev_allows_the_examples_hosts_besides_the_configured_ones() -> None:
    assert dev_allowed_hosts([]) == ["127.0.0.1:8070"]
    assert dev_allowed_hosts(["crm.example.com"]) == ["crm.example.com", "127.0.0.1:8070"]
    assert dev_allowed_hosts(["127.0.0.1:8070", "a.test"]) == ["127.0.0.1:8070", "a.test"]


def _child(supervisor: int, word: str) -> int:
    """The pid of the supervisor's child running `ticketflow WORD` (worker, edge, api), once
    there is one.

    The training worker (`ticketflow worker --task-queue training`) is not the worker.
    """
    found: list[int] = []

    def running() -> bool:
        found[:] = [
            p
            for p in children_of(supervisor)
            if command_line(p)[3:4] == [word] and "--task-queue" not in command_line(p)
        ]
        return bool(found)

    wait_until(running, f"a `ticketflow {word}` child of {supervisor}")
    return found[0]


def _kill_and_await_a_new_one(supervisor: int, word: str) -> None:
    """SIGKILL the supervisor's `ticketflow WORD` child and wait for its replacement."""
    first = _child(supervisor, word)
    os.kill(first, signal.SIGKILL)
    wait_until(lambda: not alive(first), f"the {word} to die")
    wait_until(lambda: _child(supervisor, word) != first, f"a new {word}")


@pytest.mark.e2e
def test_a_dead_worker_or_api_comes_back_and_the_stack_keeps_answering(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with dev_stack(tmp_path, data_dir, "heal") as stack:
        supervisor = stack.process.pid
        for word in ("worker", "edge", "api"):
            _kill_and_await_a_new_one(supervisor, word)
        wait_until(lambda: healthy(stack.api_port), "the restarted API")
        log = stack.log()
        assert "the worker was killed by SIGKILL; restarting it in 0.5 s" in log
        assert "the edge worker for site local was killed by SIGKILL; restarting it in 0.5 s" in log
        assert "the API was killed by SIGKILL; restarting it in 0.5 s" in log
        assert stack.process.poll() is None

        # The CLI finds the stack from the data dir alone, and filing a ticket needs the worker:
        # the 201 comes once the new worker has projected it.
        added = ticketflow_cli(
            "--data-dir",
            str(data_dir),
            "users",
            "add",
            "rita",
            "--department",
            "sales",
            "--role",
            "requester",
        )
        assert added.returncode == 0, added.stderr
        response = httpx.post(
            f"http://{HOST}:{stack.api_port}/tickets",
            headers={"Authorization": f"Bearer {added.stdout.strip()}"},
            json={"definition": "it-incident", "data": INTAKE},
            timeout=60,
            trust_env=False,
        )
        assert response.status_code == 201, response.text
        # `triage train` reaches this stack's Temporal (a random port), not one on 7233.
        trained = ticketflow_cli("--data-dir", str(data_dir), "triage", "train")
        assert trained.returncode == 0, trained.stderr
        assert json.loads(trained.stdout)["trained"] is False  # one ticket is too few
        assert stack.stop() == 0, stack.log()


@pytest.mark.e2e
def test_a_second_start_on_the_data_dir_says_so_offers_to_stop_and_stop_stops(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    with dev_stack(tmp_path, data_dir, "first") as first:
        refused = ticketflow_cli(*dev_command(data_dir, free_port(), free_temporal_port())[3:])
        assert refused.returncode == 2, refused.stderr
        assert refused.stderr.count("\n") == 1, refused.stderr
        assert f"(pid {first.process.pid}, http://{HOST}:{first.api_port})" in refused.stderr
        assert f"is already running on {data_dir}" in refused.stderr
        assert f"`ticketflow dev --stop --data-dir {data_dir}`" in refused.stderr
        assert first.process.poll() is None

        # At a terminal it asks, and a yes stops the first stack and starts this one.
        api_port, temporal_port = free_port(), free_temporal_port()
        terminal, tty = pty.openpty()
        output = tmp_path / "second.log"
        with output.open("wb") as sink:
            second = subprocess.Popen(
                dev_command(data_dir, api_port, temporal_port),
                stdin=tty,
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        os.close(tty)
        try:
            wait_until(lambda: "Stop it and start again? [y/N]" in output.read_text(), "a prompt")
            os.write(terminal, b"y\n")
            assert first.process.wait(STOP_TIMEOUT) == 0
            wait_until(lambda: healthy(api_port), "the second stack")

            stopped = ticketflow_cli("dev", "--stop", "--data-dir", str(data_dir))
            assert stopped.returncode == 0, stopped.stderr
            assert f"stopped the stack (pid {second.pid})" in stopped.stderr
            assert second.wait(STOP_TIMEOUT) == 0, output.read_text()
        finally:
            os.close(terminal)
            if second.poll() is None:
                second.kill()
                second.wait()
        assert processes_mentioning(str(data_dir)) == []
        again = ticketflow_cli("dev", "--stop", "--data-dir", str(data_dir))
        assert (again.returncode, again.stderr) == (
            0,
            f"ticketflow dev: no stack is running on {data_dir}\n",
        )


@pytest.mark.e2e
def test_a_sigkilled_supervisor_leaves_no_child_and_the_next_start_works(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with dev_stack(tmp_path, data_dir, "killed") as stack:
        children = children_of(stack.process.pid)
        # Temporal, the worker, the training worker, the edge worker for `local`, the API.
        assert len(children) == 5
        stack.process.kill()
        stack.process.wait()
        wait_until(lambda: not any(alive(pid) for pid in children), "the children to die")
        ports = (stack.api_port, stack.temporal_port, stack.temporal_port + 1000)
        # Nothing serves there any more (a bind probe would race other processes on the
        # machine for these ephemeral ports). Polled: one fresh-clone run found a port still
        # accepting just after the children were gone.
        wait_until(
            lambda: not any(port_accepts(HOST, port) for port in ports),
            f"nothing to serve on {ports}",
            timeout=10,
        )

    # While it is down, the CLI still finds its database; the next start lists what it finds.
    document = tmp_path / "incident.yaml"
    document.write_text(yaml.safe_dump({k: v for k, v in INCIDENT.items() if k != "version"}))
    published = ticketflow_cli("--data-dir", str(data_dir), "definitions", "publish", str(document))
    assert published.stdout == "published incident@1\n", published.stderr
    with dev_stack(tmp_path, data_dir, "after-kill") as stack:
        examples = "after-sales-repair@1, device-alarm@1, equipment-repair@1, incident@1"
        assert f"{examples}, it-incident@1" in stack.log()
        # The after-sales example's CRM host is allowed whatever the environment configures.
        (allowed,) = [line for line in stack.log().splitlines() if "HTTP allowed:" in line]
        assert "127.0.0.1:8070" in allowed
        assert stack.stop() == 0, stack.log()


def _token(data_dir: Path, name: str, role: str) -> dict[str, str]:
    """Add a user to the stack on `data_dir` by the CLI; its Authorization header."""
    added = ticketflow_cli(
        "--data-dir", str(data_dir), "users", "add", name, "--department", "ops", "--role", role
    )
    assert added.returncode == 0, added.stderr
    return {"Authorization": f"Bearer {added.stdout.strip()}"}


@pytest.mark.e2e
async def test_a_device_on_the_site_local_is_read_by_the_stacks_edge_worker(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    with dev_stack(tmp_path, data_dir, "edge") as stack:
        (devices,) = [line for line in stack.log().splitlines() if "Devices:" in line]
        assert "site local read by its edge worker (queue edge-local)" in devices
        owner, agent = _token(data_dir, "olga", "process_owner"), _token(data_dir, "abe", "agent")
        async with (
            modbus_device() as modbus,
            httpx.AsyncClient(
                base_url=f"http://{HOST}:{stack.api_port}", timeout=60, trust_env=False
            ) as http,
        ):
            await modbus.write("holding", 0, [215])
            device = {**MODBUS, "endpoint": f"tcp://{modbus.endpoint}"}
            registered = await http.post("/devices", json=device, headers=owner)
            assert registered.status_code == 201, registered.text
            taken = await http.post("/devices/pump-7/snapshot", headers=agent)
        assert taken.status_code == 201, taken.text
        assert [(r["point"], r["value"], r["quality"]) for r in taken.json()["readings"]] == [
            ("temperature", 21.5, "good"),
            ("running", False, "good"),
        ]
        assert stack.stop() == 0, stack.log()
        assert processes_mentioning(str(data_dir)) == []
