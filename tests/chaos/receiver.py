"""One HTTP receiver on 127.0.0.1 for the stack's outbound calls: care actions and webhooks.

It records every POST (path, headers, body) in arrival order and answers 200 with a JSON body,
as a connector or a subscriber that took the message would. A test can hook an arrival before
it is answered (to kill the sender mid-delivery).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

HOST = "127.0.0.1"
CARE_PATH = "/care"
HOOK_PATH = "/hooks/chaos"


@dataclass(frozen=True)
class Arrival:
    """One POST as it arrived."""

    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        """The body, parsed."""
        return json.loads(self.body)


@dataclass
class Receiver:
    """Where it listens and what arrived, in order."""

    port: int = 0
    arrivals: list[Arrival] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Called with each arrival and how many have arrived at its path, before it is answered.
    on_arrival: Callable[[Arrival, int], None] | None = None

    @property
    def netloc(self) -> str:
        """The receiver's allow-list entry."""
        return f"{HOST}:{self.port}"

    def url(self, path: str) -> str:
        """The URL of `path` on this receiver."""
        return f"http://{self.netloc}{path}"

    def at(self, path: str) -> list[Arrival]:
        """What arrived at `path` so far, in arrival order."""
        with self.lock:
            return [a for a in self.arrivals if a.path == path]


@contextmanager
def receiving() -> Iterator[Receiver]:
    """Serve on a free loopback port until the block ends."""
    receiver = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            headers = {k.lower(): v for k, v in self.headers.items()}
            arrival = Arrival(self.path, headers, body)
            with receiver.lock:
                receiver.arrivals.append(arrival)
                count = sum(1 for a in receiver.arrivals if a.path == self.path)
            if receiver.on_arrival is not None:
                receiver.on_arrival(arrival, count)
            answer = b'{"ok": true}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the checks read what arrived instead."""

    server = ThreadingHTTPServer((HOST, 0), Handler)
    server.daemon_threads = True
    receiver.port = server.server_port
    thread = threading.Thread(target=server.serve_forever, name="receiver", daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
