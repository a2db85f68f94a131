"""CORS: off by default; the codec's origins on /codec/*, the API's origins everywhere else."""

from __future__ import annotations

from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

CODEC_PREFIX = "/codec/"
# What a browser client of the API sends besides simple headers, and may read back.
API_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
API_HEADERS = ["Authorization", "Content-Type", "Idempotency-Key", "If-Match", "X-Request-ID"]
API_EXPOSED = ["X-Request-ID", "ETag", "Location", "Retry-After"]


class CodecCors:
    """ASGI middleware: Starlette's CORS on /codec/* for `origins`, on the rest for `api_origins`.

    Each list is empty by default, and then its paths answer no cross-origin browser request
    at all; a Web UI origin configured for the codec reaches nothing but the codec.
    """

    def __init__(
        self, app: ASGIApp, *, origins: list[str], api_origins: list[str] | None = None
    ) -> None:
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
        # Bearer tokens travel in a header, never in cookies: no credentialed requests.
        self._api_cors = (
            CORSMiddleware(
                app,
                allow_origins=api_origins,
                allow_methods=API_METHODS,
                allow_headers=API_HEADERS,
                expose_headers=API_EXPOSED,
            )
            if api_origins
            else None
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Route /codec/* through the codec's CORS layer, the rest through the API's."""
        if scope["type"] == "http":
            cors = self._cors if scope["path"].startswith(CODEC_PREFIX) else self._api_cors
            if cors is not None:
                await cors(scope, receive, send)
                return
        await self._app(scope, receive, send)
