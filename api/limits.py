"""Request body size limit, enforced while the body streams in (Content-Length or not)."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.problems import problem_response


class BodySizeLimit:
    """ASGI middleware answering 413 (problem+json) to bodies over `max_bytes`."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Reject early on Content-Length, else count bytes as they arrive."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        detail = f"request body is larger than {self.max_bytes} bytes"
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await problem_response(413, detail)(scope, receive, send)
            return
        seen = 0

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    # FastAPI re-raises HTTPException from body parsing; the problem handler
                    # renders it.
                    raise HTTPException(413, detail)
            return message

        await self.app(scope, counting_receive, send)
