"""OpenTelemetry tracing: off by default; on, one trace from the HTTP request to the activities."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import httpx
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from tests.api.conftest import seed_users
from tests.api.helpers import incident_document
from tests.dbutil import migrated_sessions
from ticketflow.settings import Settings
from ticketflow.telemetry import tracing_interceptors
from workers.tickets import build_ticket_worker

# Spans the worker ends after the request answered: how long to look for them.
SPAN_WAIT_SECONDS = 20.0


def _recording() -> tuple[TracerProvider, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


async def _spans_of_trace(
    exporter: InMemorySpanExporter, trace_id: int, prefix: str
) -> list[ReadableSpan]:
    """The trace's spans once one named `prefix...` has ended, or at the wait's end."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + SPAN_WAIT_SECONDS
    while True:
        spans = [s for s in exporter.get_finished_spans() if s.context.trace_id == trace_id]
        if any(s.name.startswith(prefix) for s in spans) or loop.time() > deadline:
            return spans
        await asyncio.sleep(0.1)


async def test_creating_a_ticket_is_one_trace_from_the_server_span_to_the_activities(
    dev_env: WorkflowEnvironment, database_url: str, tmp_path: Path
) -> None:
    provider, exporter = _recording()
    queue = f"otel-{uuid.uuid4().hex[:8]}"
    settings = Settings(database_url=database_url, task_queue=queue, otel_enabled=True)
    # The client as `connect` builds it with tracing on; the worker inherits its interceptor.
    client = Client(
        **{**dev_env.client.config(), "interceptors": tracing_interceptors(settings, provider)}
    )
    async with migrated_sessions(database_url) as sessions:
        tokens = await seed_users(sessions)
        app = create_app(settings, temporal=client, sessions=sessions, tracer_provider=provider)
        async with (
            build_ticket_worker(
                client=client, task_queue=queue, sessions=sessions, data_dir=tmp_path
            ),
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://ticketflow.test"
            ) as http,
        ):
            prefix = "O" + uuid.uuid4().hex[:8].upper()
            published = await http.post(
                "/definitions",
                json=incident_document(key_prefix=prefix),
                headers={"Authorization": f"Bearer {tokens['owner']}"},
            )
            assert published.status_code == 201, published.text
            exporter.clear()
            created = await http.post(
                "/tickets",
                json={"definition": "incident", "data": {"title": "VPN down"}},
                headers={"Authorization": f"Bearer {tokens['rita']}"},
            )
            assert created.status_code == 201, created.text
            (server,) = [
                s
                for s in exporter.get_finished_spans()
                if s.kind == SpanKind.SERVER and s.name == "POST /tickets"
            ]
            spans = await _spans_of_trace(exporter, server.context.trace_id, "RunActivity:")
    by_name = {s.name: s for s in spans}
    # The request starts the workflow with its first Update; the workflow runs, schedules the
    # projection activity, and the activity runs: each span hangs under the one before it, so a
    # trace viewer shows one tree from the HTTP request down.
    assert "RunWorkflow:TicketWorkflow" in by_name
    parents = {s.context.span_id: s.parent.span_id for s in spans if s.parent is not None}
    chain = [by_name["RunActivity:project_ticket"].context.span_id]
    while chain[-1] in parents:
        chain.append(parents[chain[-1]])
    names = {s.context.span_id: s.name for s in spans}
    assert [names[span_id] for span_id in chain] == [
        "RunActivity:project_ticket",
        "StartActivity:project_ticket",
        "StartUpdateWithStartWorkflow:TicketWorkflow",
        "POST /tickets",
    ]


async def test_with_tracing_off_nothing_is_installed_and_no_span_is_made(
    dev_env: WorkflowEnvironment, database_url: str
) -> None:
    provider, exporter = _recording()
    settings = Settings(database_url=database_url)
    assert tracing_interceptors(settings, provider) == []
    async with migrated_sessions(database_url) as sessions:
        app = create_app(
            settings, temporal=dev_env.client, sessions=sessions, tracer_provider=provider
        )
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http,
        ):
            assert (await http.get("/healthz")).status_code == 200
    assert exporter.get_finished_spans() == ()
    assert isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)
