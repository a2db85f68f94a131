"""Running a real `ticketflow dev` stack from tests, and cleaning up after it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import httpx

from ticketflow.temporal_server import port_in_use, temporal_binary

HOST = "127.0.0.1"
READY_TIMEOUT = 90.0
STOP_TIMEOUT = 60.0
BANNER_END = "Press Ctrl-C to stop."


def free_port() -> int:
    """A TCP port the OS just reported free."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def refusing_socket() -> socket.socket:
    """A socket bound to a loopback port and not listening: connecting to it is refused, and
    no other process can take the port while it stays open."""
    holder = socket.socket()
    holder.bind((HOST, 0))
    return holder


def free_temporal_port() -> int:
    """A free port whose UI companion (port + 1000) is free as well."""
    while True:
        port = free_port()
        if port + 1000 <= 65535 and not port_in_use(HOST, port + 1000):
            return port


def dev_command(data_dir: Path, api_port: int, temporal_port: int) -> list[str]:
    """The `ticketflow dev` argv for these ports and data dir."""
    return [
        sys.executable,
        "-m",
        "ticketflow",
        "dev",
        "--port",
        str(api_port),
        "--temporal-port",
        str(temporal_port),
        "--data-dir",
        str(data_dir),
    ]


def processes_mentioning(text: str) -> list[int]:
    """Pids whose command line or environment contains `text` (children of a dev stack)."""
    pids = []
    needle = text.encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if any(needle in (entry / name).read_bytes() for name in ("cmdline", "environ")):
                pids.append(int(entry.name))
        except OSError:
            continue
    return pids


def children_of(pid: int) -> list[int]:
    """Live (not zombie) processes whose parent is `pid`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            # The command name is in parentheses and may hold spaces: split after it.
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[1]) == pid:
            found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    """True while `pid` exists and is not a zombie."""
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def command_line(pid: int) -> list[str]:
    """The argv of a process (empty once it is gone)."""
    try:
        raw = (Path("/proc") / str(pid) / "cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def wait_until(condition: Callable[[], bool], what: str, timeout: float = READY_TIMEOUT) -> None:
    """Poll `condition` until it holds; fail naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def cli_env() -> dict[str, str]:
    """This environment without TICKETFLOW_* variables: the CLI must find the stack by itself."""
    return {k: v for k, v in os.environ.items() if not k.startswith("TICKETFLOW_")}


def ticketflow_cli(
    *args: str, stdin: int | None = subprocess.DEVNULL
) -> subprocess.CompletedProcess[str]:
    """Run `ticketflow ARGS` with no TICKETFLOW_* variables set."""
    return subprocess.run(
        [sys.executable, "-m", "ticketflow", *args],
        env=cli_env(),
        stdin=stdin,
        capture_output=True,
        text=True,
        timeout=180,
    )


@dataclass
class Stack:
    """A running `ticketflow dev` and where to reach it."""

    process: subprocess.Popen[bytes]
    api_port: int
    temporal_port: int
    output: Path

    def log(self) -> str:
        """Everything the stack printed so far."""
        return self.output.read_text(errors="replace")

    def stop(self) -> int:
        """Send Ctrl-C's signal and return the exit code."""
        self.process.send_signal(signal.SIGINT)
        return self.process.wait(STOP_TIMEOUT)


@contextmanager
def dev_stack(
    tmp_path: Path,
    data_dir: Path,
    name: str,
    env: dict[str, str] | None = None,
    ready_timeout: float = READY_TIMEOUT,
) -> Iterator[Stack]:
    """Start `ticketflow dev` (with `env` added to this environment) and wait for /healthz
    (at most `ready_timeout` s); kill anything left over on the way out."""
    api_port, temporal_port = free_port(), free_temporal_port()
    output = tmp_path / f"{name}.log"
    with output.open("wb") as sink:
        process = subprocess.Popen(
            dev_command(data_dir, api_port, temporal_port),
            cwd=tmp_path,
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
        )
    stack = Stack(process, api_port, temporal_port, output)
    try:
        deadline = time.monotonic() + ready_timeout
        while not (healthy(api_port) and BANNER_END in stack.log()):
            assert process.poll() is None, f"ticketflow dev exited early:\n{stack.log()}"
            assert time.monotonic() < deadline, f"no /healthz 200 and banner:\n{stack.log()}"
            time.sleep(0.25)
        yield stack
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for pid in processes_mentioning(str(data_dir)):
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def healthy(api_port: int) -> bool:
    try:
        # trust_env=False: a proxy from the environment must not intercept loopback calls.
        response = httpx.get(f"http://{HOST}:{api_port}/healthz", timeout=2, trust_env=False)
        return response.status_code == 200
    except httpx.TransportError:
        return False


def temporal_cli(temporal_port: int, *args: str) -> str:
    """Run the `temporal` CLI against the stack's server and return its stdout."""
    result = subprocess.run(
        [str(temporal_binary()), *args, "--address", f"{HOST}:{temporal_port}"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return result.stdout
