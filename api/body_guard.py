"""Refuse request values the service cannot store or carry, before any view sees them.

The URL may hold no NUL (PostgreSQL text cannot store it). A JSON body is parsed once (in a
worker thread; integers too long for Python to convert are read by length instead) and walked
without recursion for NUL, lone surrogates, integers beyond 64 bits (what databases and other
clients hold), non-finite numbers and nesting deeper than 64 levels; each is a 422 problem
with its pointer. Bodies that are not JSON pass on for their views to judge.
"""

from __future__ import annotations

import json
from urllib.parse import parse_qsl, unquote

from anyio import to_thread
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.limits import is_signed_delivery, is_streamed_upload
from api.problems import problem_response
from domain.json_values import INT_MAX, INT_MIN, NUL, TOO_DEEP, value_problems
from domain.problems import Problem, pointer

DETAIL = "the request holds values the service cannot store"
# JSON travels as UTF-8 (RFC 8259); other bytes cannot be a string of any field.
NOT_UTF8 = "the body is not UTF-8 text"
# Bodies of these types are not JSON; their views parse them (YAML definitions). A `+json`
# suffix makes any type JSON to FastAPI, so it is checked here whatever comes before it.
_NOT_JSON = (
    "application/yaml",
    "application/x-yaml",
    "text/yaml",
    "application/x-www-form-urlencoded",
)
# A 64-bit integer has at most 19 digits and a sign; anything longer is out of range.
_MAX_INT_TEXT = len(str(INT_MIN))


def _bounded_int(text: str) -> int:
    """An integer as parsed, or one just out of range when its text is too long to convert."""
    if len(text) <= _MAX_INT_TEXT:
        return int(text)
    return INT_MIN - 1 if text.startswith("-") else INT_MAX + 1


def _may_be_json(content_type: str) -> bool:
    """Whether a view could read a body of this type as JSON."""
    media = content_type.split(";")[0].strip().lower()
    if media.endswith("+json"):
        return True
    return media not in _NOT_JSON and not media.startswith("multipart/")


def body_problems(body: bytes, content_type: str = "application/json") -> list[Problem]:
    """Problems with a request body; none for an empty body or one that is not JSON."""
    if not body or not _may_be_json(content_type):
        return []
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        return [Problem(pointer="", detail=f"{NOT_UTF8} (byte {exc.start})")]
    try:
        parsed = json.loads(text)
    except RecursionError:
        return [Problem(pointer="", detail=TOO_DEEP)]
    except json.JSONDecodeError:
        # Not JSON: its view answers that; a raw NUL is refused here all the same.
        return [Problem(pointer="", detail=NUL)] if "\x00" in text else []
    except ValueError:
        # An integer of more digits than Python converts: parse again, reading them by length
        # (only then, as the hook slows every integer down).
        parsed = json.loads(text, parse_int=_bounded_int)
    return value_problems(parsed)


def url_problems(scope: Scope) -> list[Problem]:
    """NUL characters in the path or a query parameter."""
    problems = []
    if "\x00" in scope["path"]:
        problems.append(Problem(pointer="path:/", detail=NUL))
    query = scope.get("query_string", b"").decode("latin-1")
    if "%00" in query or "\x00" in unquote(query):
        for name, value in parse_qsl(query, keep_blank_values=True):
            if "\x00" in name or "\x00" in value:
                problems.append(Problem(pointer=f"query:{pointer(name)}", detail=NUL))
    return problems


class BodyGuard:
    """ASGI middleware answering 422 (problem+json) to values no view should have to handle."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the URL at once and the body once it has arrived, then pass it on unchanged."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        problems = url_problems(scope)
        if problems:
            await problem_response(422, NUL, problems=problems)(scope, receive, send)
            return
        if is_streamed_upload(scope) or is_signed_delivery(scope):
            # Bytes, not JSON, read by their view as they arrive: never buffered here. A
            # signed delivery's view checks its signature first, then these same values.
            await self.app(scope, receive, send)
            return
        messages: list[Message] = []
        try:
            while True:
                message = await receive()
                messages.append(message)
                if message["type"] != "http.request" or not message.get("more_body", False):
                    break
        except HTTPException as exc:
            # The body size limit speaks through an exception; out here no handler renders it.
            await problem_response(exc.status_code, exc.detail)(scope, receive, send)
            return
        body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.request")
        content_type = dict(scope["headers"]).get(b"content-type", b"").decode("latin-1")
        # Linear in the body, but a megabyte of small values takes a while: not on the loop.
        problems = await to_thread.run_sync(body_problems, body, content_type)
        if problems:
            await problem_response(422, DETAIL, problems=problems)(scope, receive, send)
            return

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)
