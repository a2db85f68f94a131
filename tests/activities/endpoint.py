"""A real HTTP server on 127.0.0.1 for the actions to call: Starlette under uvicorn, on this loop.

Each route behaves one way (a JSON document, a status, a redirect, a slow or oversized answer);
`hits` counts the requests per path, so a test can tell how often Temporal retried.
"""

from __future__ import annotations

import asyncio
import socket
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import (
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Route

DOCUMENT = {
    "order": {"id": 7, "lines": [{"sku": "A-1", "qty": 2}, {"sku": "B-2", "qty": 1}]},
    "a/b": "slash",
    "m~n": "tilde",
    "customer": {"name": "Ada", "tier": "gold"},
}


@dataclass
class Endpoint:
    """Where the server listens, and how often each path was asked for."""

    host: str
    port: int
    hits: Counter[str] = field(default_factory=Counter)
    # JSON bodies posted to /inbox/<name>, by name, in arrival order (accepted ones only).
    received: dict[str, list[Any]] = field(default_factory=dict)

    @property
    def origin(self) -> str:
        """http://127.0.0.1:<port>"""
        return f"http://{self.host}:{self.port}"

    @property
    def allowed(self) -> str:
        """This server's allow-list entry."""
        return f"{self.host}:{self.port}"

    def url(self, path: str) -> str:
        """The URL of `path` on this server."""
        return self.origin + path


def _app(endpoint: Endpoint) -> Starlette:
    def counted(request: Request) -> int:
        endpoint.hits[request.url.path] += 1
        return endpoint.hits[request.url.path]

    async def document(request: Request) -> Response:
        counted(request)
        return JSONResponse(DOCUMENT)

    async def echo(request: Request) -> Response:
        counted(request)
        body = await request.body()
        return JSONResponse(
            {
                "method": request.method,
                "query": dict(request.query_params),
                "json": (await request.json()) if body else None,
                "token": request.headers.get("x-token"),
                "host": request.headers.get("host"),
                "accept_encoding": request.headers.get("accept-encoding"),
            }
        )

    async def status(request: Request) -> Response:
        counted(request)
        code = int(request.path_params["code"])
        headers = (
            {"Retry-After": request.query_params["retry_after"]}
            if ("retry_after" in request.query_params)
            else None
        )
        return JSONResponse({"error": code}, status_code=code, headers=headers)

    async def flaky(request: Request) -> Response:
        # Fails with `code` (default 503) on the first `fail` requests, then answers.
        hit = counted(request)
        if hit <= int(request.query_params.get("fail", "1")):
            return JSONResponse(
                {"busy": True}, status_code=int(request.query_params.get("code", "503"))
            )
        return JSONResponse({"attempt": hit})

    async def slow(request: Request) -> Response:
        # The first request waits `delay` seconds before answering; later ones answer at once.
        if counted(request) == 1:
            await asyncio.sleep(float(request.query_params.get("delay", "5")))
        return JSONResponse({"late": False})

    async def redirect(request: Request) -> Response:
        counted(request)
        return RedirectResponse(request.query_params["to"], status_code=302)

    async def loop(request: Request) -> Response:
        counted(request)
        return RedirectResponse("/loop", status_code=302)

    async def big(request: Request) -> Response:
        counted(request)
        size = int(request.query_params["bytes"])
        return JSONResponse({"blob": "x" * size})

    async def stream(request: Request) -> Response:
        # No Content-Length: only reading the body finds out how long it is.
        counted(request)
        chunks = int(request.query_params["chunks"])

        async def body() -> AsyncIterator[bytes]:
            yield b'{"blob": "'
            for _ in range(chunks):
                yield b"x" * 65536
            yield b'"}'

        return StreamingResponse(body(), media_type="application/json")

    async def inbox(request: Request) -> Response:
        # A webhook: answers `code` (default 503) to the first `fail` posts, then keeps the body.
        hit = counted(request)
        if hit <= int(request.query_params.get("fail", "0")):
            return JSONResponse(
                {"busy": True}, status_code=int(request.query_params.get("code", "503"))
            )
        endpoint.received.setdefault(request.path_params["name"], []).append(await request.json())
        return JSONResponse({"kept": True}, status_code=202)

    async def text(request: Request) -> Response:
        counted(request)
        return PlainTextResponse("<html>not json</html>", media_type="text/html")

    return Starlette(
        routes=[
            Route("/document", document),
            Route("/echo", echo, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
            Route("/status/{code:int}", status),
            Route("/flaky/{name}", flaky),
            Route("/slow/{name}", slow),
            Route("/redirect", redirect, methods=["GET", "POST"]),
            Route("/loop", loop),
            Route("/big", big),
            Route("/stream", stream),
            Route("/text", text),
            Route("/inbox/{name}", inbox, methods=["POST"]),
        ]
    )


@asynccontextmanager
async def serving() -> AsyncIterator[Endpoint]:
    """The app under uvicorn on a free loopback port of this event loop, until the block ends."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    endpoint = Endpoint(host="127.0.0.1", port=sock.getsockname()[1])
    config = uvicorn.Config(
        _app(endpoint), log_level="warning", access_log=False, timeout_graceful_shutdown=1
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.02)
        yield endpoint
    finally:
        server.should_exit = True
        await task
        sock.close()
