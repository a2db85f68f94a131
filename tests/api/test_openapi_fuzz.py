"""Schemathesis against the live OpenAPI document, as every role, on a real stack.

The app is served by uvicorn on a loopback port from a thread with its own event loop (the
Temporal client, the worker and the database engine all live on that loop), because
Schemathesis calls are synchronous: they cannot share pytest-asyncio's loop with the app.
Each stack has a fresh migrated database; the policy-changing operations get a stack of
their own, so a rule a fuzzed call adds or removes never changes what the other operations see.

Bounds: `TICKETFLOW_FUZZ_EXAMPLES` generated cases per operation (default 12; each is sent as
every role), hypothesis `deadline=None`, and a per-test timeout scaled to the examples, which
fails the run rather than cutting it short; `make test-fuzz` runs the same tests deeper.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import socket
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import CheckContext, not_a_server_error
from schemathesis.core.parameters import ParameterLocation
from schemathesis.core.transport import Response
from schemathesis.generation.case import Case
from schemathesis.generation.modes import GenerationMode
from schemathesis.schemas import BaseSchema
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from tests.api.conftest import seed_users
from tests.builders import INCIDENT
from tests.dbutil import fresh_database, migrated_sessions, postgres_server_url
from ticketflow.settings import Settings
from ticketflow.temporal_client import DATA_CONVERTER
from workers.tickets import build_ticket_worker

PROBLEM = "application/problem+json"
EXAMPLES = int(os.environ.get("TICKETFLOW_FUZZ_EXAMPLES", "12"))
# One test sends every operation's cases as every role; this is its ceiling (a failure, not a skip).
TIMEOUT = 60 + EXAMPLES * 6
ROLES = {
    "requester": "rita",
    "agent": "dana",
    "process_owner": "owner",
    "auditor": "audrey",
    "system": "monitor",
    "admin": "root",
}
POLICY_CHANGES = "^/policies(/roles)?$"
POLICY_METHODS = ("POST", "DELETE")
pytestmark = pytest.mark.fuzz


@dataclass
class Served:
    """A stack served over HTTP: its base URL, a token per test user, and seeded names."""

    url: str
    tokens: dict[str, str]
    known: dict[str, list[str]] = field(default_factory=dict)


async def seed(
    http: httpx.AsyncClient, tokens: dict[str, str], prefix: str
) -> dict[str, list[str]]:
    """Publish the incident definition and file tickets, so generated paths can hit real rows."""

    def auth(user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {tokens[user]}"}

    document = {k: v for k, v in INCIDENT.items() if k != "version"} | {"key_prefix": prefix}
    published = await http.post("/definitions", json=document, headers=auth("owner"))
    assert published.status_code == 201, published.text
    keys = []
    for user, title in (("rita", "VPN down"), ("sam", "Printer jammed")):
        filed = await http.post(
            "/tickets",
            json={"definition": "incident", "data": {"title": title}},
            headers=auth(user),
        )
        assert filed.status_code == 201, filed.text
        keys.append(filed.json()["key"])
    claimed = await http.post(f"/tickets/{keys[0]}/tasks/triage/claim", headers=auth("dana"))
    assert claimed.status_code == 200, claimed.text
    for listing in ("/templates", "/calendars", "/forms"):
        listed = await http.get(listing, headers=auth("root"))
        assert listed.status_code == 200, listed.text
        keys.extend(sorted({item["key"] for item in listed.json()}))
    return {
        "key": [*keys, "incident"],
        "stage": [stage["key"] for stage in INCIDENT["stages"]],
        "version": ["1"],
        "a": ["1"],
        "b": ["1"],
    }


@asynccontextmanager
async def running_stack(
    target: str, namespace: str, database_url: str, sock: socket.socket
) -> AsyncIterator[Served]:
    """The app, a worker and uvicorn on this loop, on a migrated database with the test users."""
    queue = f"fuzz-{uuid.uuid4().hex[:8]}"
    # `ignored_auth` repeats calls with bad tokens on purpose, and generated feedback links are
    # all bad: the failed-token limits are for attackers, not for this run.
    app_settings = Settings(
        database_url=database_url,
        task_queue=queue,
        max_body_bytes=64_000,
        auth_failure_limit="1000000/minute",
        feedback_failure_limit="1000000/minute",
    )
    async with migrated_sessions(database_url) as sessions:
        tokens = await seed_users(sessions)
        client = await Client.connect(target, namespace=namespace, data_converter=DATA_CONVERTER)
        app = create_app(app_settings, temporal=client, sessions=sessions)
        config = uvicorn.Config(app, lifespan="on", log_level="warning", access_log=False)
        server = uvicorn.Server(config)
        async with build_ticket_worker(client=client, task_queue=queue, sessions=sessions):
            serving = asyncio.create_task(server.serve(sockets=[sock]))
            while not server.started:
                if serving.done():
                    serving.result()
                await asyncio.sleep(0.05)
            host, port = sock.getsockname()[:2]
            url = f"http://{host}:{port}"
            try:
                async with httpx.AsyncClient(base_url=url, timeout=30) as http:
                    # Tests share one Temporal server: a key prefix of its own keeps the
                    # ticket keys (workflow ids) of this stack apart.
                    known = await seed(http, tokens, "F" + uuid.uuid4().hex[:8].upper())
                yield Served(url=url, tokens=tokens, known=known)
            finally:
                server.should_exit = True
                await serving


@dataclass
class StackThread:
    """Runs `running_stack` on its own event loop in a thread until `stop`."""

    target: str
    namespace: str
    database_url: str
    served: Served | None = None
    error: BaseException | None = None
    _ready: threading.Event = field(default_factory=threading.Event)
    _loop: asyncio.AbstractEventLoop | None = None
    _stop: asyncio.Event | None = None
    _thread: threading.Thread | None = None

    def start(self) -> Served:
        """Start the thread and wait until the stack answers."""
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)
        self._thread.start()
        if not self._ready.wait(120):
            raise TimeoutError("the fuzz stack did not start within 120 s")
        if self.error is not None:
            raise self.error
        assert self.served is not None
        return self.served

    def stop(self) -> None:
        """Stop the server and the worker and wait for the thread."""
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(60)
        if self.error is not None:
            raise self.error

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        try:
            async with running_stack(
                self.target, self.namespace, self.database_url, sock
            ) as served:
                self.served = served
                self._ready.set()
                await self._stop.wait()
        except BaseException as exc:
            self.error = exc
        finally:
            sock.close()
            self._ready.set()


@contextmanager
def served_stack(dev_env: WorkflowEnvironment, tmp_path: Path) -> Iterator[Served]:
    """A stack on a fresh database (PostgreSQL when configured, else SQLite), then torn down."""
    kind = "postgresql" if postgres_server_url() else "sqlite"
    with fresh_database(kind, tmp_path) as url:
        config = dev_env.client.service_client.config
        thread = StackThread(
            target=config.target_host, namespace=dev_env.client.namespace, database_url=url
        )
        served = thread.start()
        try:
            yield served
        finally:
            thread.stop()


@pytest.fixture(scope="module")
def stack(
    dev_env: WorkflowEnvironment, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    """The stack every operation but the policy changes runs against."""
    with served_stack(dev_env, tmp_path_factory.mktemp("fuzz")) as served:
        yield served


@pytest.fixture(scope="module")
def policy_stack(
    dev_env: WorkflowEnvironment, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    """A throwaway stack for the operations that change the policy."""
    with served_stack(dev_env, tmp_path_factory.mktemp("fuzz-policies")) as served:
        yield served


def live_schema(served: Served) -> BaseSchema:
    """The app's own /openapi.json, as the running stack serves it."""
    schema = schemathesis.openapi.from_url(f"{served.url}/openapi.json")
    # The API ignores query parameters it does not declare (FastAPI's behaviour, and harmless:
    # an unknown filter filters nothing), so a request whose only fault is one is not refused.
    schema.config.generation.update(allow_extra_parameters=False)
    # Each call carries a real role's token; a generated Authorization header would be replaced
    # by it, turning a negative case into a valid one (`ignored_auth` covers missing tokens).
    schema.config.generation.update(with_security_parameters=False)
    # Any 4xx is a refusal (413 for a body over the limit included); 5xx fail on their own.
    schema.config.checks.negative_data_rejection.expected_statuses = ["4xx"]

    return schema


@schemathesis.check
def problem_document(ctx: CheckContext, response: Response, case: Case) -> bool | None:
    """Every 4xx is an RFC 9457 problem document carrying its own status."""
    if not 400 <= response.status_code < 500:
        return None
    content_type = response.headers.get("content-type", [""])[0]
    assert content_type == PROBLEM, f"{response.status_code} as {content_type!r}"
    body = response.json()
    assert isinstance(body, dict), body
    assert body.get("status") == response.status_code, body
    assert isinstance(body.get("title"), str), body
    assert isinstance(body.get("detail"), str), body
    return True


@schemathesis.check
def invalid_input_refused(ctx: CheckContext, response: Response, case: Case) -> bool | None:
    """`negative_data_rejection`, but not for a case whose only negation is in the query.

    Query strings are parsed leniently by design: a repeated scalar takes its last value and a
    type-negated `false` or `[]` is a valid string on the wire, so those verdicts misfire.
    """
    meta = case.meta
    if meta is not None and meta.generation.mode.is_negative:
        elsewhere = (ParameterLocation.PATH, ParameterLocation.HEADER, ParameterLocation.BODY)
        if not any(meta.is_negative_at(location) for location in elsewhere):
            return None
    return negative_data_rejection(ctx, response, case)


@schemathesis.check
def no_server_error(ctx: CheckContext, response: Response, case: Case) -> bool | None:
    """`not_a_server_error`, but for the documented 503 of SVG on a machine without Graphviz."""
    undrawable = response.status_code == 503 and "cannot draw SVG" in response.text
    if undrawable and shutil.which("dot") is None:
        return None
    return not_a_server_error(ctx, response, case)


CHECKS = [
    no_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    invalid_input_refused,
    ignored_auth,
    problem_document,
]


# A validator's answer to an invalid document is a 200 report listing its problems.
REPORTS_INVALID_INPUT = {"POST /definitions/validate"}


def call_as_every_role(case: Case, served: Served) -> None:
    """Send the case as each role's user and run every check on each answer."""
    checks = CHECKS
    if case.operation.label in REPORTS_INVALID_INPUT:
        checks = [check for check in CHECKS if check is not invalid_input_refused]
    for role, user in ROLES.items():
        try:
            case.call_and_validate(
                base_url=served.url,
                headers={"Authorization": f"Bearer {served.tokens[user]}"},
                checks=checks,
                timeout=30,
            )
        except BaseException as failure:
            failure.add_note(f"as {role} ({user})")
            raise


def seeded_cases(operation: Any, served: Served) -> list[st.SearchStrategy[Case]]:
    """Valid cases whose path ids name rows the stack seeded (generated ids mostly miss)."""
    names = [name for name in re.findall(r"{(\w+)}", operation.path) if name in served.known]
    if not names:
        return []
    ids = st.fixed_dictionaries({name: st.sampled_from(served.known[name]) for name in names})
    return [
        ids.flatmap(
            lambda fixed: operation.as_strategy(GenerationMode.POSITIVE, path_parameters=fixed)
        )
    ]


def fuzz(schema: BaseSchema, served: Served, subtests: pytest.Subtests) -> None:
    """Each operation, valid and invalid inputs alike, as every role; one subtest per operation."""
    operations = [result.ok() for result in schema.get_all_operations()]
    assert operations, "the schema selects no operation"
    for operation in operations:
        cases = st.one_of(
            operation.as_strategy(GenerationMode.POSITIVE),
            operation.as_strategy(GenerationMode.NEGATIVE),
            *seeded_cases(operation, served),
        )

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        @given(case=cases)
        def run(case: Case) -> None:
            call_as_every_role(case, served)

        with subtests.test(msg=operation.label):
            run()


@pytest.mark.timeout(TIMEOUT)
def test_every_operation_as_every_role(stack: Served, subtests: pytest.Subtests) -> None:
    schema = live_schema(stack).exclude(path_regex=POLICY_CHANGES, method=list(POLICY_METHODS))
    fuzz(schema, stack, subtests)


@pytest.mark.timeout(TIMEOUT)
def test_policy_changes_on_a_throwaway_database(
    policy_stack: Served, subtests: pytest.Subtests
) -> None:
    schema = live_schema(policy_stack).include(
        path_regex=POLICY_CHANGES, method=list(POLICY_METHODS)
    )
    fuzz(schema, policy_stack, subtests)
