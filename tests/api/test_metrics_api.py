"""GET /metrics scraped over real HTTP: request latency by route template, the projection's
figures, the worker's Temporal SDK metrics, and who may scrape."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from domain.events_out import DELIVERED, FAILED
from store.models import DeliveryAttemptRow, SlaClockRow, SubscriptionRow
from tests.api.conftest import seed_users
from tests.api.helpers import incident_document, serving
from tests.dbutil import migrated_sessions
from tests.devstack_util import free_port
from ticketflow.settings import Settings
from ticketflow.telemetry import worker_runtime
from ticketflow.temporal_client import connect
from workers.tickets import build_ticket_worker

TOKEN = "m" * 32


def _samples(text: str) -> list[Sample]:
    return [s for family in text_string_to_metric_families(text) for s in family.samples]


def _value(samples: list[Sample], name: str, **labels: str) -> float | None:
    found = [s.value for s in samples if s.name == name and s.labels == labels]
    return found[0] if found else None


async def _seed_deliveries_and_breach(sessions: async_sessionmaker[AsyncSession], key: str) -> None:
    now = datetime.now(UTC)
    async with sessions() as session, session.begin():
        session.add(
            SubscriptionRow(
                id="sub-1",
                owner="monitor",
                owner_role="system",
                owner_department="it",
                url="https://example.test/hook",
                event_types=[],
                filter=None,
                secret="s" * 32,
                status="active",
                created_at=now,
                paused_at=None,
                paused_reason=None,
            )
        )
        await session.flush()
        for attempt, outcome in enumerate((FAILED, FAILED, DELIVERED), start=1):
            session.add(
                DeliveryAttemptRow(
                    subscription_id="sub-1",
                    event_id=f"{key}-1",
                    ticket_key=key,
                    event_type="created",
                    attempt=attempt,
                    at=now,
                    outcome=outcome,
                    status_code=None,
                    error=None,
                )
            )
        session.add(
            SlaClockRow(
                ticket_key=key,
                clock_id="seeded-breach",
                stage_key=None,
                round=1,
                milestone=False,
                calendar="24x7",
                state="breached",
                target_seconds=60.0,
                started_at=now,
                elapsed_seconds=120.0,
                paused_seconds=0.0,
                running_since=None,
                paused_since=None,
                stopped_at=now,
                breached_at=now,
                fired=[],
                last_seq=0,
            )
        )


async def test_a_scrape_after_a_ticket_shows_its_route_state_and_the_workers_task_latency(
    dev_env: WorkflowEnvironment, database_url: str, tmp_path: Path
) -> None:
    queue = f"metrics-{uuid.uuid4().hex[:8]}"
    prefix = "M" + uuid.uuid4().hex[:8].upper()
    worker_metrics = f"127.0.0.1:{free_port()}"
    settings = Settings(
        database_url=database_url,
        task_queue=queue,
        temporal_address=dev_env.client.service_client.config.target_host,
        temporal_namespace=dev_env.client.namespace,
    )
    # The worker process's client: `ticketflow worker` connects the same way.
    runtime = worker_runtime(settings.model_copy(update={"worker_metrics_address": worker_metrics}))
    worker_client = await connect(settings, runtime=runtime)
    async with migrated_sessions(database_url) as sessions:
        tokens = await seed_users(sessions)
        app = create_app(settings, temporal=dev_env.client, sessions=sessions)
        async with (
            build_ticket_worker(
                client=worker_client, task_queue=queue, sessions=sessions, data_dir=tmp_path
            ),
            serving(app) as url,
            httpx.AsyncClient(base_url=url) as http,
        ):
            published = await http.post(
                "/definitions",
                json=incident_document(key_prefix=prefix),
                headers={"Authorization": f"Bearer {tokens['owner']}"},
            )
            assert published.status_code == 201, published.text
            created = await http.post(
                "/tickets",
                json={"definition": "incident", "data": {"title": "VPN down"}},
                headers={"Authorization": f"Bearer {tokens['rita']}"},
            )
            assert created.status_code == 201, created.text
            key = created.json()["key"]
            read = await http.get(
                f"/tickets/{key}", headers={"Authorization": f"Bearer {tokens['rita']}"}
            )
            assert read.status_code == 200
            await _seed_deliveries_and_breach(sessions, key)

            scraped = await http.get("/metrics")
            assert scraped.status_code == 200, scraped.text
            samples = _samples(scraped.text)
            histogram = "ticketflow_http_request_duration_seconds_count"
            assert _value(samples, histogram, method="POST", route="/tickets", status="201") == 1
            assert (
                _value(samples, histogram, method="GET", route="/tickets/{key}", status="200") == 1
            )
            # Labels are templates, definitions and states: no ticket key, no person.
            assert key not in scraped.text
            assert "rita" not in scraped.text
            assert _value(samples, "ticketflow_tickets", definition="incident", state="open") == 1
            assert _value(samples, "ticketflow_sla_breaches_total", definition="incident") == 1
            assert _value(samples, "ticketflow_webhook_failures_total") == 2
            assert (
                _value(samples, "ticketflow_webhook_delivery_attempts_total", outcome="delivered")
                == 1
            )

            async with httpx.AsyncClient(base_url=f"http://{worker_metrics}") as temporal_scrape:
                sdk = _samples((await temporal_scrape.get("/metrics")).text)
            latency = [
                s
                for s in sdk
                if s.name == "temporal_workflow_task_execution_latency_seconds_count"
                and s.labels.get("task_queue") == queue
            ]
            assert latency
            assert sum(s.value for s in latency) >= 1


async def test_without_a_token_only_loopback_scrapes_and_with_one_only_its_bearer(
    dev_env: WorkflowEnvironment, database_url: str
) -> None:
    async with migrated_sessions(database_url) as sessions:
        open_app = create_app(
            Settings(database_url=database_url), temporal=dev_env.client, sessions=sessions
        )
        outside = httpx.ASGITransport(app=open_app, client=("10.1.2.3", 40000))
        async with (
            open_app.router.lifespan_context(open_app),
            httpx.AsyncClient(transport=outside, base_url="http://t") as http,
        ):
            refused = await http.get("/metrics")
        assert refused.status_code == 403
        assert refused.headers["content-type"] == "application/problem+json"

        guarded = create_app(
            Settings(database_url=database_url, metrics_token=TOKEN),
            temporal=dev_env.client,
            sessions=sessions,
        )
        transport = httpx.ASGITransport(app=guarded, client=("10.1.2.3", 40000))
        async with (
            guarded.router.lifespan_context(guarded),
            httpx.AsyncClient(transport=transport, base_url="http://t") as http,
        ):
            missing = await http.get("/metrics")
            wrong = await http.get("/metrics", headers={"Authorization": "Bearer " + "x" * 32})
            right = await http.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert (missing.status_code, wrong.status_code, right.status_code) == (401, 401, 200)
        assert "ticketflow_tickets" in right.text
