"""GET /metrics in Prometheus' text format: request latency by route, figures from the projection.

Labels are route templates, methods, status codes, definition keys, states and outcomes only:
never a ticket key, a user or a field, so the page says nothing about anyone.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Iterable

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.limits import FailedAuthLimit
from api.problems import ProblemError
from store.metrics import ProjectionFigures, projection_figures
from ticketflow.settings import Settings

LOOPBACK = frozenset({"127.0.0.1", "::1"})
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# A path no route matched (a 404, a probe): one label value, whatever the path was.
UNMATCHED = "unmatched"

router = APIRouter(tags=["metrics"])


def request_histogram(registry: CollectorRegistry) -> Histogram:
    """The request latency histogram, by method, route template and status code."""
    return Histogram(
        "ticketflow_http_request_duration_seconds",
        "Time from request to the end of the response, by route template.",
        ["method", "route", "status"],
        registry=registry,
    )


class RequestMetrics:
    """ASGI middleware observing each request's duration under its route's template, in the
    histogram of the app's current deployment (`app.state.request_histogram`)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Time the request; the router leaves the matched route in the scope."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = getattr(scope.get("route"), "path", None) or UNMATCHED
            method = scope["method"] if scope["method"] in METHODS else "other"
            histogram: Histogram = scope["app"].state.request_histogram
            histogram.labels(method, route, str(status)).observe(time.perf_counter() - started)


class ProjectionCollector(Collector):
    """The projection's figures as read for one scrape."""

    def __init__(self, figures: ProjectionFigures) -> None:
        self.figures = figures

    def collect(self) -> Iterable[Metric]:
        """Tickets by definition and state; SLA breaches, triage and deliveries as counters."""
        figures = self.figures
        tickets = GaugeMetricFamily(
            "ticketflow_tickets", "Tickets by definition and state.", labels=["definition", "state"]
        )
        for (definition, state), count in sorted(figures.tickets.items()):
            tickets.add_metric([definition, state], count)
        breaches = CounterMetricFamily(
            "ticketflow_sla_breaches",
            "SLA clocks that breached, by definition.",
            labels=["definition"],
        )
        for definition, count in sorted(figures.sla_breaches.items()):
            breaches.add_metric([definition], count)
        decided = CounterMetricFamily(
            "ticketflow_triage_decisions",
            "Tickets triage decided, by definition.",
            labels=["definition"],
        )
        routed = CounterMetricFamily(
            "ticketflow_triage_auto_routed",
            "Tickets triage routed with no person, by definition.",
            labels=["definition"],
        )
        rate = GaugeMetricFamily(
            "ticketflow_triage_auto_route_ratio",
            "Auto-routed ÷ decided, by definition.",
            labels=["definition"],
        )
        for definition, count in sorted(figures.triage_decisions.items()):
            auto = figures.triage_auto_routed.get(definition, 0)
            decided.add_metric([definition], count)
            routed.add_metric([definition], auto)
            rate.add_metric([definition], auto / count if count else 0.0)
        attempts = CounterMetricFamily(
            "ticketflow_webhook_delivery_attempts",
            "Event delivery attempts to subscriptions, by outcome.",
            labels=["outcome"],
        )
        for outcome, count in sorted(figures.deliveries.items()):
            attempts.add_metric([outcome], count)
        failures = CounterMetricFamily(
            "ticketflow_webhook_failures", "Event delivery attempts that failed."
        )
        failures.add_metric([], figures.deliveries.get("failed", 0))
        yield from (tickets, breaches, decided, routed, rate, attempts, failures)


async def _admit(request: Request, settings: Settings) -> None:
    client = request.client.host if request.client else "-"
    if settings.metrics_token is None:
        if client not in LOOPBACK:
            raise ProblemError(403, "without TICKETFLOW_METRICS_TOKEN, /metrics answers loopback")
        return
    failures: FailedAuthLimit = request.app.state.auth_failures
    wait = await failures.retry_after(client)
    if wait is not None:
        raise ProblemError(429, "too many invalid tokens", headers={"Retry-After": str(wait)})
    given = request.headers.get("authorization", "")
    expected = f"Bearer {settings.metrics_token.get_secret_value()}"
    if not hmac.compare_digest(given.encode(), expected.encode()):
        await failures.failed(client)
        raise ProblemError(
            401, "the metrics token is missing or wrong", headers={"WWW-Authenticate": "Bearer"}
        )


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    """Prometheus exposition: the process's request metrics, then the projection's figures."""
    await _admit(request, request.app.state.settings)
    async with request.app.state.sessions() as session:
        figures = await projection_figures(session=session)
    scrape = CollectorRegistry(auto_describe=False)
    scrape.register(ProjectionCollector(figures))
    body = generate_latest(request.app.state.metrics) + generate_latest(scrape)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
