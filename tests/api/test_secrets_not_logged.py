"""No secret or token reaches a log: a ticket's whole life over real HTTP, every logger at DEBUG.

The app runs under uvicorn (its access log on) with payload encryption, a git webhook secret,
a feedback signing key, a subscription's `whsec_` secret and every user's API token in play;
each captured line is searched for each of them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import secrets
import uuid
from collections.abc import Iterator
from contextlib import AsyncExitStack, contextmanager
from contextvars import ContextVar
from pathlib import Path

import httpx
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from api.limits import loggable_target
from domain.events_out import subscription_workflow_id
from services.feedback_tokens import feedback_token
from tests.api.conftest import Api, seed_users
from tests.api.helpers import publish_incident, serving, work
from tests.api.webhook_receiver import receiving
from tests.dbutil import migrated_sessions, sqlite_url
from ticketflow.settings import Settings
from ticketflow.temporal_client import data_converter
from workers.tickets import build_ticket_worker

PAYLOAD_KEY = base64.b64encode(secrets.token_bytes(32)).decode()
GIT_SECRET = secrets.token_hex(24)
SIGNING_KEY = secrets.token_hex(32)
WHSEC = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
UVICORN = ("uvicorn", "uvicorn.error", "uvicorn.access")


# Set in the test's own task once the servers run: what httpx logs of the test's requests
# (their headers carry the tokens) is the test's, not the service's. The servers' tasks and
# the worker's were created before, so they never see it set.
_TESTS_OWN = ContextVar("tests_own", default=False)


class _Keep(logging.Handler):
    """Every record of the service, formatted as an operator's handler writes it."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if not _TESTS_OWN.get():
            self.lines.append(self.format(record))


@contextmanager
def _at_debug(keep: _Keep, *names: str) -> Iterator[None]:
    """These loggers (the root when none is named) at DEBUG, writing to `keep`."""
    loggers = [logging.getLogger(name) for name in names] or [logging.getLogger()]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
        logger.addHandler(keep)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.removeHandler(keep)
            logger.setLevel(level)


def _push(key: str) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(
        {
            "ref": "refs/heads/main",
            "repository": {"full_name": "ops/lb", "html_url": "https://github.test/ops/lb"},
            "commits": [{"id": "9f1c2ab" + "4" * 33, "message": f"{key}: fix the health check"}],
        }
    ).encode()
    digest = hmac.new(GIT_SECRET.encode(), body, hashlib.sha256).hexdigest()
    return body, {
        "Content-Type": "application/json",
        "X-GitHub-Event": "push",
        "X-GitHub-Delivery": uuid.uuid4().hex,
        "X-Hub-Signature-256": f"sha256={digest}",
    }


async def test_no_issued_secret_or_token_is_ever_logged(
    dev_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    keep = _Keep()
    queue = f"secrets-{uuid.uuid4().hex[:8]}"
    url = sqlite_url(tmp_path)
    # DEBUG before anything starts, as an operator's logging configuration would be.
    async with AsyncExitStack() as stack:
        stack.enter_context(_at_debug(keep))
        receiver = await stack.enter_async_context(receiving())
        sessions = await stack.enter_async_context(migrated_sessions(url))
        settings = Settings(
            database_url=url,
            data_dir=tmp_path,
            task_queue=queue,
            payload_keys={"k1": PAYLOAD_KEY},
            payload_key_id="k1",
            git_webhook_secret=GIT_SECRET,
            signing_key=SIGNING_KEY,
            http_allowed_hosts=[receiver.allowed],
        )
        # Client and worker encrypt payloads with the key ring, as in production.
        client = Client(
            dev_env.client.service_client,
            namespace=dev_env.client.namespace,
            data_converter=data_converter(settings),
        )
        tokens = await seed_users(sessions)
        app = create_app(settings, temporal=client, sessions=sessions)
        async with (
            build_ticket_worker(
                client=client,
                task_queue=queue,
                sessions=sessions,
                data_dir=tmp_path,
                settings=settings,
            ),
            serving(app, log_level="debug") as base,
            httpx.AsyncClient(base_url=base, timeout=60) as http,
        ):
            # uvicorn configured its own loggers as it started, and they do not propagate.
            with _at_debug(keep, *UVICORN):
                _TESTS_OWN.set(True)
                api = Api(
                    http=http,
                    env=dev_env,
                    sessions=sessions,
                    prefix="K" + uuid.uuid4().hex[:8].upper(),
                    tokens=tokens,
                    task_queue=queue,
                )
                subscribed = await http.post(
                    "/subscriptions",
                    json={"url": receiver.url("monitor"), "secret": WHSEC},
                    headers=api.auth("monitor"),
                )
                assert subscribed.status_code == 201, subscribed.text
                await publish_incident(api)
                filed = await http.post(
                    "/tickets",
                    json={"definition": "incident", "data": {"title": "VPN down"}},
                    headers=api.auth("rita"),
                )
                assert filed.status_code == 201, filed.text
                key = filed.json()["key"]
                for stage, user in (("triage", "dana"), ("diagnose", "otto"), ("fix", "devi")):
                    await work(api, key, stage, user)
                body, headers = _push(key)
                pushed = await http.post("/integrations/git/webhook", content=body, headers=headers)
                assert pushed.status_code < 300, pushed.text
                await work(api, key, "verify", "dana")
                confirmed = await http.post(f"/tickets/{key}/confirm", headers=api.auth("rita"))
                assert confirmed.json()["status"] == "closed", confirmed.text
                feedback = feedback_token(settings=settings, ticket_key=key)
                rated = await http.post(f"/feedback/{feedback}", json={"csat": 5, "nps": 10})
                assert rated.status_code == 201, rated.text
                decoded = await http.post(
                    "/codec/decode", json={"payloads": []}, headers=api.auth("audrey")
                )
                assert decoded.status_code == 200, decoded.text
                # Credentials where clients put them by mistake: in the query string.
                for user in ("rita", "root"):
                    listed = await http.get(
                        f"/tickets?token={tokens[user]}", headers=api.auth(user)
                    )
                    assert listed.status_code == 200, listed.text
                # A forged link is refused, and its attempt is logged all the same.
                forged = await http.post(f"/consents/revoke/{secrets.token_urlsafe(32)}")
                assert forged.status_code >= 400
                await http.get("/tickets", headers={"Authorization": f"Bearer {tokens['otto']}x"})
                _TESTS_OWN.set(False)
            await client.get_workflow_handle(
                subscription_workflow_id(subscribed.json()["id"])
            ).terminate()

    issued = {
        "payload key": PAYLOAD_KEY,
        "git webhook secret": GIT_SECRET,
        "signing key": SIGNING_KEY,
        "subscription secret": WHSEC,
        "subscription key": WHSEC.removeprefix("whsec_"),
        "feedback token": feedback,
        "feedback token's MAC": feedback.split(".")[1],
        **{f"{user}'s API token": token for user, token in tokens.items()},
    }
    assert len(keep.lines) > 100  # the run was logged, at DEBUG, by many loggers
    assert any("uvicorn.access" in line and "/feedback/" in line for line in keep.lines)
    leaks = {
        what: [line[:300] for line in keep.lines if value in line] for what, value in issued.items()
    }
    found = {what: lines for what, lines in leaks.items() if lines}
    assert found == {}, json.dumps(found, indent=1)


def test_logged_targets_hide_link_tokens_and_query_values() -> None:
    assert loggable_target("/feedback/S0ZDLTE.abc_DEF-1") == "/feedback/***"
    assert loggable_target("/consents/revoke/tok/extra") == "/consents/revoke/***/extra"
    assert loggable_target("/tickets", "status=open&token=tf_x") == "/tickets?status=***&token=***"
    assert loggable_target("/tickets/INC-1/events") == "/tickets/INC-1/events"
