"""Request ids for tracing, a body size limit enforced while the body streams in, and the
limits on invalid bearer tokens and invalid feedback links per client."""

from __future__ import annotations

import logging
import math
import re
import time
import uuid

from limits import parse
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.problems import problem_response

# Uploads of deliverables stream to the artifact store under their contract's own size limit.
_STREAMED_UPLOAD = re.compile(r"^/tickets/[^/]+/deliverables/[^/]+/[^/]+$")


# A git server's delivery: its view checks the signature over the raw body before reading it.
SIGNED_DELIVERY = "/integrations/git/webhook"
_CONNECTOR_DELIVERY = re.compile(r"^/integrations/[^/]+/events$")


def is_signed_delivery(scope: Scope) -> bool:
    """Whether the request is a webhook delivery, whose body is judged only once authenticated."""
    if scope.get("method") != "POST":
        return False
    path: str = scope["path"]
    return path == SIGNED_DELIVERY or _CONNECTOR_DELIVERY.match(path) is not None


def is_streamed_upload(scope: Scope) -> bool:
    """Whether the request is a deliverable's upload, whose body its view reads as it streams."""
    return scope.get("method") == "POST" and _STREAMED_UPLOAD.match(scope["path"]) is not None


class BodySizeLimit:
    """ASGI middleware answering 413 (problem+json) to bodies over `max_bytes`."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Reject early on Content-Length, else count bytes as they arrive."""
        if scope["type"] != "http" or is_streamed_upload(scope):
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


MAX_REQUEST_ID = 128
log = logging.getLogger("ticketflow.requests")
# Paths whose last segment is a credential: the token of a feedback or consent link.
_CREDENTIAL_PATH = re.compile(r"^(/feedback/|/consents/revoke/)[^/?]+")
HIDDEN = "***"


def loggable_target(path: str, query: str = "") -> str:
    """A request target as logs may show it: link tokens hidden, query values hidden.

    Deny by default: a query value may be a token a client put there, so only the names show.
    """
    shown = _CREDENTIAL_PATH.sub(rf"\g<1>{HIDDEN}", path)
    if not query:
        return shown
    names = [part.split("=", 1)[0] for part in query.split("&") if part]
    return shown + "?" + "&".join(f"{name}={HIDDEN}" for name in names)


class AccessLogRedaction(logging.Filter):
    """Rewrites uvicorn's access-log records so their request target is `loggable_target`'s."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Hide credentials in the target argument (client, method, target, version, status)."""
        args = record.args
        if isinstance(args, tuple) and len(args) == 5 and isinstance(args[2], str):
            path, _, query = args[2].partition("?")
            record.args = (*args[:2], loggable_target(path, query), *args[3:])
        return True


def redact_access_log() -> None:
    """Install the redaction on uvicorn's access logger, once per process."""
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, AccessLogRedaction) for f in access.filters):
        access.addFilter(AccessLogRedaction())


class RequestIds:
    """Give every request an id for tracing (the caller's X-Request-ID, or a new one).

    The id is echoed in the response and logged; it identifies nothing else (retries of a
    change are matched by their Idempotency-Key). An id too long to log is replaced.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Store the id in the request state and add it to the response headers."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(b"x-request-id", b"")
        usable = 0 < len(given) <= MAX_REQUEST_ID
        request_id = given.decode("latin-1") if usable else str(uuid.uuid4())
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)["X-Request-ID"] = request_id
                log.info(
                    "%s %s %s request-id=%s",
                    scope["method"],
                    loggable_target(scope["path"]),
                    message["status"],
                    request_id,
                )
            await send(message)

        await self.app(scope, receive, send_with_id)


class FailedAuthLimit:
    """Invalid tokens (bearer tokens, feedback links) per client address, in a moving window
    held in memory."""

    def __init__(self, rate: str) -> None:
        self.item = parse(rate)
        self.limiter = MovingWindowRateLimiter(MemoryStorage())

    async def retry_after(self, client: str) -> int | None:
        """Seconds until this client may try a token again; None when it may now."""
        if await self.limiter.test(self.item, client):
            return None
        stats = await self.limiter.get_window_stats(self.item, client)
        return max(1, math.ceil(stats.reset_time - time.time()))

    async def failed(self, client: str) -> None:
        """Count one invalid token from this client."""
        await self.limiter.hit(self.item, client)
