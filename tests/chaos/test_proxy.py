"""The outage proxy forwards bytes both ways, drops everything during an outage, then heals."""

from __future__ import annotations

import socket
import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress

import pytest

from tests.chaos.proxy import HOST, OutageProxy

pytestmark = pytest.mark.chaos


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        with suppress(ConnectionError):  # the proxy resets connections on purpose
            while data := self.request.recv(4096):
                self.request.sendall(data)


@contextmanager
def echo_server() -> Iterator[int]:
    server = socketserver.ThreadingTCPServer((HOST, 0), _Echo)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def roundtrip(connection: socket.socket, payload: bytes) -> bytes:
    connection.sendall(payload)
    received = b""
    while len(received) < len(payload):
        chunk = connection.recv(65536)
        if not chunk:
            break
        received += chunk
    return received


def cut_off(connection: socket.socket) -> bool:
    """True when the peer has closed or reset the connection (what a client sees of an outage)."""
    try:
        connection.sendall(b"x")
        return connection.recv(1) == b""
    except ConnectionError:
        return True


def reachable(port: int) -> bool:
    """Whether a new connection through the proxy gets an echo."""
    try:
        with socket.create_connection((HOST, port), timeout=10) as connection:
            return roundtrip(connection, b"ping") == b"ping"
    except ConnectionError:
        return False


def test_forwards_drops_during_an_outage_and_heals() -> None:
    with echo_server() as port, OutageProxy(HOST, port).running() as proxy:
        payload = bytes(range(256)) * 1000
        with socket.create_connection((HOST, proxy.port), timeout=10) as before:
            assert roundtrip(before, payload) == payload
            with proxy.outage():
                # The open connection is reset, and a new one is cut off at once.
                assert cut_off(before)
                assert not reachable(proxy.port)
        assert reachable(proxy.port)
        assert proxy.dropped >= 2
