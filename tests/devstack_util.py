"""Running a real `ticketflow dev` stack from tests, and cleaning up after it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
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
def dev_stack(tmp_path: Path, data_dir: Path, name: str) -> Iterator[Stack]:
    """Start `ticketflow dev` and wait for /healthz; kill anything left over on the way out."""
    api_port, temporal_port = free_port(), free_temporal_port()
    output = tmp_path / f"{name}.log"
    with output.open("wb") as sink:
        process = subprocess.Popen(
            dev_command(data_dir, api_port, temporal_port),
            cwd=tmp_path,
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    stack = Stack(process, api_port, temporal_port, output)
    try:
        deadline = time.monotonic() + READY_TIMEOUT
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
