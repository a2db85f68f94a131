"""Tickets driven over HTTP while the stack's processes die: nothing lost, doubled or reordered.

Each scenario drives its tickets through the life in `tests/chaos/driver.py` on a real
`ticketflow dev` while seeded faults hit it, then compares every ticket's projected events
with its workflow's, seq by seq, and its end state with the undisturbed run's.
"""

from __future__ import annotations

import os
import signal
from concurrent.futures import Future, ThreadPoolExecutor

import pytest

from tests.chaos.checker import findings, tickets_of_definition
from tests.chaos.conftest import FULL, SCALE, SEED, ChaosStack
from tests.chaos.driver import DEFINITION, Driver, Finding, Life, run_lives
from tests.chaos.faults import (
    RESTART_TIMEOUT,
    RandomKiller,
    child,
    reserved_ticket_key,
    stopped,
)
from tests.devstack_util import alive, healthy, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.chaos, pytest.mark.timeout(3600 if FULL else 900)]

# How long a create may take to commit its key reservation while Temporal is stopped.
RESERVATION_TIMEOUT = 300.0


def check(stack: ChaosStack, lives: list[Life], faults: str) -> None:
    """Every ticket against its workflow and the clean run; all findings in one failure."""
    keys = [life.key for life in lives]
    assert len(set(keys)) == len(keys), f"two lives got one ticket: {keys}"
    problems = findings(stack.records(keys), stack.clean)
    assert not problems, "\n".join([*problems, f"faults: {faults}", f"seed: {SEED}"])


def drive_under(stack: ChaosStack, driver: Driver, killer: RandomKiller) -> list[Life]:
    """Run every life while the killer kills; a failed life names the faults around it."""
    try:
        with killer.running():
            lives = run_lives(driver, list(range(SCALE.tickets)))
    except Finding as exc:
        raise Finding(f"{exc}\nfaults: {killer.summary()}\nseed: {SEED}") from exc
    assert killer.kills, "the lives ended before any fault: the scenario tested nothing"
    return lives


@pytest.mark.skipif(
    not FULL, reason="make test kills the worker at chosen points (test_kill_points.py) instead"
)
def test_worker_sigkilled_at_random_points_of_the_lives(sqlite_stack: ChaosStack) -> None:
    driver = Driver(sqlite_stack.base_url, sqlite_stack.tokens, "worker-kill")
    killer = RandomKiller(
        sqlite_stack.supervisor,
        "worker",
        SCALE.worker_kills,
        SEED,
        driver.phases,
        gaps=(0.5, 3.0),
    )
    lives = drive_under(sqlite_stack, driver, killer)
    check(sqlite_stack, lives, killer.summary())


def test_temporal_killed_and_restarted_from_its_sqlite_file(sqlite_stack: ChaosStack) -> None:
    driver = Driver(sqlite_stack.base_url, sqlite_stack.tokens, "temporal-kill")
    killer = RandomKiller(
        sqlite_stack.supervisor,
        "temporal",
        SCALE.temporal_kills,
        SEED + 1,
        driver.phases,
        gaps=(1.0, 5.0),
    )
    lives = drive_under(sqlite_stack, driver, killer)
    check(sqlite_stack, lives, killer.summary())


def test_api_killed_between_reserving_a_key_and_starting_the_workflow(
    sqlite_stack: ChaosStack,
) -> None:
    """With Temporal stopped, a create blocks right after committing its key reservation;
    the API is killed there, and the driver's retry with the same Idempotency-Key must get
    that ticket, started once, while the other lives run on."""
    stack = sqlite_stack
    before = tickets_of_definition(database_url=stack.database_url, definition=DEFINITION["key"])
    driver = Driver(stack.base_url, stack.tokens, "api-kill")
    victims = list(range(SCALE.api_victims))
    others: Future[list[Life]]
    reserved: dict[int, str] = {}
    with ThreadPoolExecutor(max_workers=len(victims) + 1) as pool:
        others = pool.submit(run_lives, driver, list(range(len(victims), SCALE.tickets)))
        futures = []
        for index in victims:
            found: list[str] = []

            def committed(index: int = index, found: list[str] = found) -> bool:
                key = reserved_ticket_key(
                    database_url=stack.database_url,
                    user="rita",
                    idempotency_key=driver.idempotency_key(index, "create"),
                )
                found[:] = [key] if key else []
                return bool(found)

            # The API killed for the last victim must be back (it connects to Temporal as it
            # starts) before Temporal is stopped again.
            wait_until(lambda: healthy(stack.stack.api_port), "the restarted API", RESTART_TIMEOUT)
            with stopped(child(stack.supervisor, "temporal")):
                futures.append(pool.submit(driver.live, index))
                wait_until(committed, f"ticket #{index}'s key reservation", RESERVATION_TIMEOUT)
                api = child(stack.supervisor, "api")
                os.kill(api, signal.SIGKILL)
                wait_until(lambda api=api: not alive(api), "the killed API to die")
            reserved[index] = found[0]
        lives = [future.result() for future in futures] + others.result()
    for life in lives[: len(victims)]:
        assert life.key == reserved[life.index], (life, reserved)
        # The answer came from the reservation the killed API left, not from a new filing.
        assert life.create_replayed, life
    filed = tickets_of_definition(database_url=stack.database_url, definition=DEFINITION["key"])
    assert filed - before == len(lives), "a killed create left a ticket behind or lost one"
    check(stack, lives, f"API killed after reserving {sorted(reserved.values())}")
