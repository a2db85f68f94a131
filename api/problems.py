"""RFC 9457 problem details: every error leaves the API as application/problem+json."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from domain.problems import Problem, pointer
from services.publishing import PublishContention

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger("ticketflow.api")


class ProblemDocument(BaseModel):
    """The body of every error answer (RFC 9457), as `problem_response` builds it."""

    type: str
    title: str
    status: int = Field(ge=400, le=599)
    detail: str
    instance: str = Field(default="", description="The request path; absent when unknown.")
    errors: list[Problem] = Field(
        default_factory=list, description="One entry per offending input location."
    )


class ProblemDocumentedAPI(FastAPI):
    """FastAPI whose OpenAPI document gives every operation its problem-document 4xx answer."""

    def openapi(self) -> dict[str, Any]:
        """The generated document, with FastAPI's 422 validation body replaced by the problem."""
        if self.openapi_schema is not None:
            return self.openapi_schema
        document = super().openapi()
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        problem = ProblemDocument.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(problem.pop("$defs", {}))
        schemas[ProblemDocument.__name__] = problem
        # FastAPI documents its own validation error body, which the handlers never send.
        for name in ("HTTPValidationError", "ValidationError"):
            schemas.pop(name, None)
        reference = {"$ref": f"#/components/schemas/{ProblemDocument.__name__}"}
        answer = {
            "description": "A problem document: refused, not found, conflicting or invalid.",
            "content": {PROBLEM_JSON: {"schema": reference}},
        }
        for path_item in document.get("paths", {}).values():
            for operation in path_item.values():
                # A view that reads its body itself names the schemas its description uses.
                schemas.update(operation.pop("x-component-schemas", {}))
                responses = operation.setdefault("responses", {})
                responses.pop("422", None)
                responses["4XX"] = answer
        self.openapi_schema = document
        return document


class ProblemError(Exception):
    """Raise from a view to answer with a problem document."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        problems: list[Problem] | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.problems = problems or []
        self.headers = headers


def reused_idempotency_key(used_for: str) -> ProblemError:
    """The 422 for an Idempotency-Key already used with a different request."""
    return ProblemError(
        422,
        "this Idempotency-Key was used with a different request",
        problems=[
            Problem(pointer="header:/Idempotency-Key", detail=f"already used for {used_for}")
        ],
    )


def problem_response(
    status: int,
    detail: str,
    *,
    problems: list[Problem] | None = None,
    instance: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """Build an application/problem+json response."""
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    if problems:
        body["errors"] = [p.model_dump() for p in problems]
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _request_problems(exc: RequestValidationError) -> list[Problem]:
    problems = []
    for error in exc.errors():
        loc = list(error.get("loc", ()))
        # FastAPI prefixes the location with where it came from: body, query, path, header.
        where = str(loc.pop(0)) if loc else "body"
        path = pointer(*loc)
        problems.append(
            Problem(
                pointer=path if where == "body" else f"{where}:{path or '/'}",
                detail=str(error.get("msg", "invalid")),
            )
        )
    return problems


def install_problem_handlers(app: FastAPI) -> None:
    """Map every error, expected or not, to a problem document."""

    @app.exception_handler(ProblemError)
    async def _problem(request: Request, exc: ProblemError) -> JSONResponse:
        return problem_response(
            exc.status,
            exc.detail,
            problems=exc.problems,
            instance=request.url.path,
            headers=exc.headers,
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return problem_response(
            422,
            "the request is not valid",
            problems=_request_problems(exc),
            instance=request.url.path,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem_response(
            exc.status_code,
            str(exc.detail),
            instance=request.url.path,
            headers=dict(exc.headers) if exc.headers else None,
        )

    @app.exception_handler(OperationalError)
    async def _store_busy(request: Request, exc: OperationalError) -> JSONResponse:
        log.warning("database unavailable on %s %s: %s", request.method, request.url.path, exc)
        return problem_response(
            503,
            "the database is busy or unavailable; the request was not applied, retry it",
            instance=request.url.path,
            headers={"Retry-After": "1"},
        )

    @app.exception_handler(PublishContention)
    async def _contention(request: Request, exc: PublishContention) -> JSONResponse:
        return problem_response(
            503,
            "too many concurrent publishes of this key; nothing was published, retry",
            instance=request.url.path,
            headers={"Retry-After": "1"},
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem_response(
            500, "internal error; the request was not applied", instance=request.url.path
        )
