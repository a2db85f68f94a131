"""Telemetry a process opts into: OpenTelemetry tracing, the Temporal SDK's Prometheus metrics.

Off by default and imported lazily: without TICKETFLOW_OTEL_ENABLED nothing of OpenTelemetry's
SDK is loaded and no tracer provider is installed, so the `otel` extra is needed only when on.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

from ticketflow.settings import Settings

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from temporalio.client import Interceptor

SERVICE_NAME = "ticketflow"
TRACER_NAME = "ticketflow"


@cache
def process_tracer_provider() -> TracerProvider:
    """The process's tracer provider, installed as the global one, exporting by OTLP/HTTP.

    The exporter reads the standard OTEL_EXPORTER_OTLP_* variables (endpoint, headers, ...);
    OTEL_SERVICE_NAME overrides the service name.
    """
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": SERVICE_NAME}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    return provider


def tracer_provider(settings: Settings) -> TracerProvider | None:
    """The provider spans go to when tracing is on; None (nothing installed) when off."""
    return process_tracer_provider() if settings.otel_enabled else None


def tracing_interceptors(
    settings: Settings, provider: TracerProvider | None = None
) -> list[Interceptor]:
    """Temporal's tracing interceptor when tracing is on (workers inherit it from the client).

    `provider` overrides the process's (a test's in-memory exporter, say).
    """
    if not settings.otel_enabled:
        return []
    from temporalio.contrib.opentelemetry import TracingInterceptor

    chosen = provider or process_tracer_provider()
    return [TracingInterceptor(chosen.get_tracer(TRACER_NAME))]


def worker_runtime(settings: Settings) -> Runtime | None:
    """A Temporal runtime serving the SDK's metrics on `worker_metrics_address`, if set.

    Durations in seconds with their unit in the name, counters ending in `_total`, as
    Prometheus names them (e.g. `temporal_workflow_task_execution_latency_seconds`).
    """
    if settings.worker_metrics_address is None:
        return None
    prometheus = PrometheusConfig(
        bind_address=settings.worker_metrics_address,
        counters_total_suffix=True,
        unit_suffix=True,
        durations_as_seconds=True,
    )
    return Runtime(telemetry=TelemetryConfig(metrics=prometheus))
