"""A webhook receiver the subscription tests run on 127.0.0.1: records what each path gets.

A path can be taken down (it answers 503) and brought back, as a subscriber's server would.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


@dataclass(frozen=True)
class Received:
    """One request as it arrived: its headers (lower-case names) and raw body."""

    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """Where it listens, which paths are down, and what each path received (accepted or not)."""

    host: str
    port: int
    down: set[str] = field(default_factory=set)
    accepted: dict[str, list[Received]] = field(default_factory=dict)
    refused: dict[str, int] = field(default_factory=dict)

    def url(self, name: str) -> str:
        """The URL of path `name`."""
        return f"http://{self.host}:{self.port}/hooks/{name}"

    @property
    def allowed(self) -> str:
        """This receiver's allow-list entry."""
        return f"{self.host}:{self.port}"


def _app(receiver: Receiver) -> Starlette:
    async def hook(request: Request) -> Response:
        name = request.path_params["name"]
        body = await request.body()
        if name in receiver.down:
            receiver.refused[name] = receiver.refused.get(name, 0) + 1
            return Response(status_code=503)
        headers = {k.lower(): v for k, v in request.headers.items()}
        receiver.accepted.setdefault(name, []).append(Received(headers=headers, body=body))
        return Response(status_code=204)

    return Starlette(routes=[Route("/hooks/{name}", hook, methods=["POST"])])


@asynccontextmanager
async def receiving() -> AsyncIterator[Receiver]:
    """The receiver under uvicorn on a free loopback port of this loop, until the block ends."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    receiver = Receiver(host="127.0.0.1", port=sock.getsockname()[1])
    config = uvicorn.Config(
        _app(receiver), log_level="warning", access_log=False, timeout_graceful_shutdown=1
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.02)
        yield receiver
    finally:
        server.should_exit = True
        await task
        sock.close()
