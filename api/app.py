"""The FastAPI application: routers, problem handlers, request ids and body limits."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from fastapi import FastAPI
from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from api.body_guard import BodyGuard
from api.codec_cors import CodecCors
from api.limits import BodySizeLimit, FailedAuthLimit, RequestIds, redact_access_log
from api.metrics import RequestMetrics, request_histogram
from api.metrics import router as metrics_router
from api.problems import ProblemDocumentedAPI, install_problem_handlers
from api.routes import (
    calendars,
    care,
    codec,
    customers,
    definitions,
    deliverables,
    devices,
    exports,
    feedback,
    forms,
    git_webhook,
    integrations,
    kpis,
    notifications,
    permission_audit,
    playbooks,
    policies,
    problems,
    sentiment,
    sla,
    subscriptions,
    tasks,
    templates,
    ticket_history,
    tickets,
    trace,
    triage,
    usage,
)
from policies.access import AccessControl, flush_usage_until
from services.published_definitions import PublishedDefinitions
from store.artifacts import FileArtifactStore
from store.db import make_async_engine, make_sessionmaker
from ticketflow.payload_codec import EncryptionCodec, key_ring
from ticketflow.settings import Settings
from ticketflow.telemetry import tracer_provider as process_tracer_provider
from ticketflow.temporal_client import connect

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Connect to what the deployment did not hand in; flush usage counts until shutdown."""
    settings: Settings = app.state.settings
    engine = None
    if app.state.given_sessions is None:
        engine = make_async_engine(settings.effective_database_url)
        app.state.sessions = make_sessionmaker(engine)
    else:
        app.state.sessions = app.state.given_sessions
    app.state.temporal = app.state.given_temporal or await connect(settings)
    stop = asyncio.Event()
    flusher = asyncio.create_task(
        flush_usage_until(stop, usage=app.state.access.usage, sessions=app.state.sessions)
    )
    try:
        yield
    finally:
        stop.set()
        await flusher
        if engine is not None:
            await engine.dispose()


def deploy(
    app: FastAPI,
    settings: Settings,
    *,
    temporal: Client | None = None,
    sessions: async_sessionmaker[AsyncSession] | None = None,
) -> None:
    """Give the app its settings, Temporal client and database (both connected at startup when
    not handed in) with caches, limits and metrics of their own, none of an earlier deployment's.

    FastAPI analyses every route once per app, on its first requests; a test suite that needs
    many apps on many databases deploys one app again instead. The middleware keeps what it
    was built with: the body limit and the CORS origins.
    """
    app.state.settings = settings
    app.state.given_temporal = temporal
    app.state.given_sessions = sessions
    app.state.access = AccessControl()
    app.state.artifacts = FileArtifactStore(settings.effective_artifacts_dir)
    app.state.definitions = PublishedDefinitions()
    app.state.auth_failures = FailedAuthLimit(settings.auth_failure_limit)
    app.state.feedback_failures = FailedAuthLimit(settings.feedback_failure_limit)
    app.state.payload_codec = EncryptionCodec(key_ring(settings))
    # Per app, not prometheus_client's global registry: each app counts its own requests.
    app.state.metrics = CollectorRegistry()
    app.state.request_histogram = request_histogram(app.state.metrics)


def create_app(
    settings: Settings,
    *,
    temporal: Client | None = None,
    sessions: async_sessionmaker[AsyncSession] | None = None,
    tracer_provider: TracerProvider | None = None,
) -> FastAPI:
    """Build the API; tests may hand in a Temporal client, a session factory and (tracing on)
    the tracer provider spans go to."""
    app = ProblemDocumentedAPI(
        title="Ticketflow",
        version="0.1.0",
        description="Work orders as durable Temporal workflows. Authenticate with "
        "`Authorization: Bearer <token>` (tokens from `ticketflow users add`).",
        lifespan=_lifespan,
    )
    deploy(app, settings, temporal=temporal, sessions=sessions)
    install_problem_handlers(app)
    redact_access_log()
    # Inside the size limit, so the body it buffers is already bounded.
    app.add_middleware(BodyGuard)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestIds)
    app.add_middleware(RequestMetrics)
    # Outermost: a browser's preflight is answered before any other layer reads the request.
    app.add_middleware(
        CodecCors, origins=settings.codec_cors_origins, api_origins=settings.cors_origins
    )

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    app.include_router(definitions.router)
    app.include_router(forms.router)
    app.include_router(templates.router)
    app.include_router(exports.router)  # before tickets: /tickets/export is not a ticket key
    app.include_router(tickets.router)
    app.include_router(ticket_history.router)
    app.include_router(trace.router)
    app.include_router(tasks.router)
    app.include_router(deliverables.router)
    app.include_router(playbooks.router)
    app.include_router(calendars.router)
    app.include_router(devices.router)
    app.include_router(sla.router)
    app.include_router(notifications.router)
    app.include_router(kpis.router)
    app.include_router(policies.router)
    app.include_router(permission_audit.router)
    app.include_router(triage.router)
    app.include_router(problems.router)
    app.include_router(customers.router)
    app.include_router(care.router)
    app.include_router(feedback.router)
    app.include_router(git_webhook.router)
    app.include_router(integrations.router)
    app.include_router(subscriptions.router)
    app.include_router(codec.router)
    app.include_router(sentiment.router)
    app.include_router(usage.router)
    app.include_router(metrics_router)
    if settings.otel_enabled:
        _instrument(app, tracer_provider or process_tracer_provider(settings))
    return app


def _instrument(app: FastAPI, provider: TracerProvider | None) -> None:
    """A server span per request (route template as its name), the parent of Temporal's."""
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(app, tracer_provider=provider)
