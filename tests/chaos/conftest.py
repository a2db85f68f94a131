"""A dev stack for the chaos scenarios, with the chaos definition, its people and a clean run."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.chaos.checker import Recorded, findings, recorded
from tests.chaos.driver import DEFINITION, USERS, Driver
from tests.chaos.receiver import CARE_PATH, Receiver, receiving
from tests.devstack_util import HOST, Stack, dev_stack
from tests.test_end_to_end import add_user
from ticketflow.settings import read_state
from workers.kill_points import KILL_DIR_ENV

# `make test-chaos` sets TICKETFLOW_CHAOS_FULL=1: the 50 tickets and 30 s outages.
# `make test` runs the bounded form: the same scenarios, fewer tickets, shorter faults.
FULL = os.environ.get("TICKETFLOW_CHAOS_FULL") == "1"
SEED = int(os.environ.get("TICKETFLOW_CHAOS_SEED", "20261201"))
# A bound on the stack's start (five processes importing the app) on a loaded machine.
STACK_READY = 600.0


@dataclass(frozen=True)
class Scale:
    """How big each scenario is."""

    tickets: int
    worker_kills: int
    temporal_kills: int
    api_victims: int
    outage_seconds: float
    care_tickets: int


SCALE = Scale(50, 8, 3, 5, 30.0, 10) if FULL else Scale(8, 3, 1, 1, 4.0, 2)


@dataclass(frozen=True)
class ChaosStack:
    """A running stack, how to reach its parts, and its undisturbed run of the life."""

    stack: Stack
    base_url: str
    tokens: dict[str, str]
    database_url: str
    temporal_address: str
    clean: Recorded
    data_dir: Path
    kills: Path
    receiver: Receiver

    @property
    def supervisor(self) -> int:
        """The `ticketflow dev` process whose children the faults kill."""
        return self.stack.process.pid

    def records(self, keys: list[str]) -> list[Recorded]:
        """Each ticket as recorded by its workflow and by the store."""
        return read_records(self.temporal_address, self.database_url, keys)


def call(stack: ChaosStack, user: str, method: str, path: str, body: dict[str, Any] | None) -> Any:
    """One setup call; anything but a 2xx fails the test."""
    response = httpx.request(
        method,
        f"{stack.base_url}{path}",
        json=body,
        headers={"Authorization": f"Bearer {stack.tokens[user]}"},
        timeout=60,
        trust_env=False,
    )
    assert response.status_code < 300, (path, response.status_code, response.text)
    return response.json()


def read_records(temporal_address: str, database_url: str, keys: list[str]) -> list[Recorded]:
    """Each ticket as recorded by its workflow and by the store (its own event loop)."""
    return asyncio.run(
        recorded(temporal_address=temporal_address, database_url=database_url, keys=keys)
    )


@contextmanager
def chaos_stack(tmp_path: Path, env: dict[str, str] | None = None) -> Iterator[ChaosStack]:
    """Start a stack, publish the life's definition, run it once undisturbed and check it.

    Its workers carry the kill points (armed by files in `kills`), and its care connector and
    webhook subscribers are one receiver the test serves.
    """
    data_dir = tmp_path / "data"
    kills = tmp_path / "kills"
    kills.mkdir()
    with receiving() as receiver:
        env = {
            "TICKETFLOW_DEV_STARTUP_SECONDS": str(STACK_READY),
            KILL_DIR_ENV: str(kills),
            "TICKETFLOW_HTTP_ALLOWED_HOSTS": receiver.netloc,
            "TICKETFLOW_CARE_WEBHOOK_URL": receiver.url(CARE_PATH),
            **(env or {}),
        }
        with dev_stack(tmp_path, data_dir, "chaos", env=env, ready_timeout=STACK_READY) as stack:
            yield _prepared(stack, data_dir, kills, receiver)


def _prepared(stack: Stack, data_dir: Path, kills: Path, receiver: Receiver) -> ChaosStack:
    """The stack with its people and definition, and the undisturbed run of the life."""
    # Each `ticketflow users add` imports the app: run them side by side.
    with ThreadPoolExecutor(max_workers=len(USERS)) as pool:
        added = {name: pool.submit(add_user, data_dir, name, *how) for name, how in USERS.items()}
    tokens = {name: future.result() for name, future in added.items()}
    base_url = f"http://{HOST}:{stack.api_port}"
    published = httpx.post(
        f"{base_url}/definitions",
        json=DEFINITION,
        headers={"Authorization": f"Bearer {tokens['paula']}"},
        timeout=60,
        trust_env=False,
    )
    assert published.status_code == 201, published.text
    state = read_state(data_dir)
    assert state is not None, stack.log()
    clean_life = Driver(base_url, tokens, "clean").live(0)
    (clean,) = read_records(state.temporal_address, state.database_url, [clean_life.key])
    assert clean.status == "closed", clean
    # The undisturbed run must agree with its own workflow before it can judge others.
    assert findings([clean], clean) == [], findings([clean], clean)
    return ChaosStack(
        stack,
        base_url,
        tokens,
        state.database_url,
        state.temporal_address,
        clean,
        data_dir,
        kills,
        receiver,
    )


@pytest.fixture(scope="session")
def sqlite_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChaosStack]:
    """One SQLite stack shared by every process-killing scenario (each arms its own faults)."""
    with chaos_stack(tmp_path_factory.mktemp("chaos")) as stack:
        yield stack
