"""CORS for the codec endpoints only, and only for the origins configured (the Web UI's)."""

from __future__ import annotations

from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

CODEC_PREFIX = "/codec/"


class CodecCors:
    """ASGI middleware: Starlette's CORS on /codec/* for `origins`; every other path untouched.

    The rest of the API answers no cross-origin browser requests at all, so a configured
    Web UI origin reaches nothing but the codec.
    """

    def __init__(self, app: ASGIApp, *, origins: list[str]) -> None:
        """Wrap `app`; with no origins this adds nothing."""
        self._app = app
        self._cors = (
            CORSMiddleware(
                app,
                allow_origins=origins,
                allow_methods=["POST"],
                # The Web UI sends the namespace, and the caller's token when told to pass it.
                allow_headers=["Authorization", "Content-Type", "X-Namespace"],
            )
            if origins
            else None
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Route /codec/* through the CORS layer when one is configured."""
        if (
            self._cors is not None
            and scope["type"] == "http"
            and scope["path"].startswith(CODEC_PREFIX)
        ):
            await self._cors(scope, receive, send)
            return
        await self._app(scope, receive, send)
