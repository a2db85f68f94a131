"""Refuse NUL characters anywhere in a request: PostgreSQL text cannot store them.

Without this, a `\\u0000` in a query parameter or a JSON string reaches PostgreSQL and fails
there (a 500 on reads, an endlessly retried projection on writes). Refusing it at the door
keeps SQLite and PostgreSQL deployments behaving alike.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qsl, unquote

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.problems import problem_response
from domain.problems import Problem, pointer

DETAIL = "NUL characters (U+0000) are not accepted"
# `\u0000` in JSON text, unless its backslash is itself escaped.
_ESCAPED_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000", re.IGNORECASE)


def _nul_pointers(value: Any, *path: str | int) -> list[str]:
    """JSON pointers of every key or string inside `value` that holds a NUL."""
    if isinstance(value, str):
        return [pointer(*path)] if "\x00" in value else []
    if isinstance(value, dict):
        found = []
        for key, item in value.items():
            if "\x00" in key:
                found.append(pointer(*path, key))
            found.extend(_nul_pointers(item, *path, key))
        return found
    if isinstance(value, list):
        return [p for i, item in enumerate(value) for p in _nul_pointers(item, *path, i)]
    return []


def _body_problems(body: bytes) -> list[Problem]:
    if b"\x00" not in body and not _ESCAPED_NUL.search(body):
        return []
    try:
        parsed = json.loads(body)
    except ValueError:
        return [Problem(pointer="", detail=DETAIL)]
    return [Problem(pointer=p, detail=DETAIL) for p in _nul_pointers(parsed)]


def _url_problems(scope: Scope) -> list[Problem]:
    problems = []
    if "\x00" in scope["path"]:
        problems.append(Problem(pointer="path:/", detail=DETAIL))
    query = scope.get("query_string", b"").decode("latin-1")
    if "%00" in query or "\x00" in unquote(query):
        for name, value in parse_qsl(query, keep_blank_values=True):
            if "\x00" in name or "\x00" in value:
                problems.append(Problem(pointer=f"query:{pointer(name)}", detail=DETAIL))
    return problems


class NulRefusal:
    """ASGI middleware answering 422 (problem+json) to a NUL in the path, query or body."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the URL at once and the body once it has arrived, then pass it on unchanged."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        problems = _url_problems(scope)
        if problems:
            await problem_response(422, DETAIL, problems=problems)(scope, receive, send)
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
        problems = _body_problems(body)
        if problems:
            await problem_response(422, DETAIL, problems=problems)(scope, receive, send)
            return

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)
