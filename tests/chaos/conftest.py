"""A dev stack for the chaos scenarios, with the chaos definition, its people and a clean run."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.chaos.checker import Recorded, findings, recorded
from tests.chaos.driver import DEFINITION, USERS, Driver
from tests.devstack_util import HOST, Stack, dev_stack
from tests.test_end_to_end import add_user
from ticketflow.settings import read_state

# `make test-chaos` sets TICKETFLOW_CHAOS_FULL=1: the 50 tickets and 30 s outages.
# `make test` runs the bounded form: the same scenarios, fewer tickets, shorter faults.
FULL = os.environ.get("TICKETFLOW_CHAOS_FULL") == "1"
SEED = int(os.environ.get("TICKETFLOW_CHAOS_SEED", "20261201"))
# A bound on the stack's start (five processes importing the app) on a loaded machine.
STACK_READY = 240.0


@dataclass(frozen=True)
class Scale:
    """How big each scenario is."""

    tickets: int
    worker_kills: int
    temporal_kills: int
    api_victims: int
    outage_seconds: float


SCALE = Scale(50, 8, 3, 5, 30.0) if FULL else Scale(8, 3, 1, 2, 4.0)


@dataclass(frozen=True)
class ChaosStack:
    """A running stack, how to reach its parts, and its undisturbed run of the life."""

    stack: Stack
    base_url: str
    tokens: dict[str, str]
    database_url: str
    temporal_address: str
    clean: Recorded

    @property
    def supervisor(self) -> int:
        """The `ticketflow dev` process whose children the faults kill."""
        return self.stack.process.pid

    def records(self, keys: list[str]) -> list[Recorded]:
        """Each ticket as recorded by its workflow and by the store."""
        return read_records(self.temporal_address, self.database_url, keys)


def read_records(temporal_address: str, database_url: str, keys: list[str]) -> list[Recorded]:
    """Each ticket as recorded by its workflow and by the store (its own event loop)."""
    return asyncio.run(
        recorded(temporal_address=temporal_address, database_url=database_url, keys=keys)
    )


@contextmanager
def chaos_stack(tmp_path: Path, env: dict[str, str] | None = None) -> Iterator[ChaosStack]:
    """Start a stack, publish the life's definition, run it once undisturbed and check it."""
    data_dir = tmp_path / "data"
    env = {"TICKETFLOW_DEV_STARTUP_SECONDS": str(STACK_READY), **(env or {})}
    with dev_stack(tmp_path, data_dir, "chaos", env=env, ready_timeout=STACK_READY) as stack:
        tokens = {name: add_user(data_dir, name, *how) for name, how in USERS.items()}
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
        yield ChaosStack(stack, base_url, tokens, state.database_url, state.temporal_address, clean)


@pytest.fixture(scope="module")
def sqlite_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChaosStack]:
    """One SQLite stack shared by the process-killing scenarios of a module."""
    with chaos_stack(tmp_path_factory.mktemp("chaos")) as stack:
        yield stack
