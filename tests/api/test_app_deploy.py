"""An app deployed again (api.app.deploy) on another database keeps nothing of the last one:
not its published definitions, not its failed-token counts, not its request metrics."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families
from temporalio.testing import WorkflowEnvironment

from api.app import create_app, deploy
from tests.api.conftest import seed_users
from tests.api.helpers import incident_document
from tests.dbutil import fresh_database, migrated_sessions
from ticketflow.settings import Settings
from workers.tickets import build_ticket_worker

BAD = {"Authorization": "Bearer tf_not-a-token"}


async def _deployment(
    app: FastAPI, env: WorkflowEnvironment, directory: Path, prefix: str
) -> list[int]:
    """Deploy the app on a new database; publish the incident under `prefix`, file
    one, then send bad tokens until refused. Returns the statuses of the bad-token calls."""
    with fresh_database("sqlite", directory, migrated=True) as url:
        async with migrated_sessions(url) as sessions:
            tokens = await seed_users(sessions)
            queue = f"deploy-{uuid.uuid4().hex[:8]}"
            settings = Settings(database_url=url, task_queue=queue, auth_failure_limit="2/minute")
            deploy(app, settings, temporal=env.client, sessions=sessions)
            async with (
                build_ticket_worker(client=env.client, task_queue=queue, sessions=sessions),
                app.router.lifespan_context(app),
                httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=app), base_url="http://ticketflow.test"
                ) as http,
            ):
                document = incident_document(key_prefix=prefix)
                document["stages"][0]["title"] = f"Triage at {prefix}"
                owner = {"Authorization": f"Bearer {tokens['owner']}"}
                published = await http.post("/definitions", json=document, headers=owner)
                assert published.status_code == 201, published.text
                assert published.json()["version"] == 1
                filed = await http.post(
                    "/tickets",
                    json={"definition": "incident", "data": {"title": "VPN down"}},
                    headers={"Authorization": f"Bearer {tokens['rita']}"},
                )
                assert filed.status_code == 201, filed.text
                key = filed.json()["key"]
                assert key.startswith(f"{prefix}-"), key
                # The path is drawn from the definition the app read for incident@1.
                path = await http.get(
                    f"/tickets/{key}/path", headers={"Authorization": f"Bearer {tokens['root']}"}
                )
                assert path.status_code == 200, path.text
                assert f"Triage at {prefix}" in path.text, path.text
                statuses = [(await http.get("/tickets", headers=BAD)).status_code for _ in "abc"]
                scraped = await http.get("/metrics")
                assert scraped.status_code == 200, scraped.text
                refused = [
                    sample
                    for family in text_string_to_metric_families(scraped.text)
                    for sample in family.samples
                    if sample.name == "ticketflow_http_request_duration_seconds_count"
                    and sample.labels.get("status") == "429"
                ]
                # This deployment's one refusal, none of the last one's.
                assert [sample.value for sample in refused] == [1.0]
                return statuses


async def test_a_deployed_again_app_keeps_nothing_of_its_last_database(
    dev_env: WorkflowEnvironment, tmp_path_factory: pytest.TempPathFactory
) -> None:
    app = create_app(
        Settings(database_url="sqlite://", auth_failure_limit="2/minute"),
        temporal=dev_env.client,
    )
    first = await _deployment(app, dev_env, tmp_path_factory.mktemp("first"), "FIRST")
    assert first == [401, 401, 429]
    # The same definition key and version on the next database, another document: the path
    # shows which one the app read; the bad tokens count from zero again.
    again = await _deployment(app, dev_env, tmp_path_factory.mktemp("again"), "AGAIN")
    assert again == [401, 401, 429]
