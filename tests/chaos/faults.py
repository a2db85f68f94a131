"""Seeded faults against a running `ticketflow dev`: SIGKILLed children, a stopped server."""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy import select

from store.db import make_sync_engine
from store.models import IdempotencyRow
from tests.chaos.proxy import OutageProxy
from tests.devstack_util import alive, children_of, command_line, wait_until
from ticketflow.temporal_server import temporal_binary

# How long a restarted child may take to appear (the supervisor's backoff reaches 30 s).
RESTART_TIMEOUT = 600.0


def _is_worker(argv: list[str]) -> bool:
    # The training worker (`ticketflow worker --task-queue training`) is not the ticket worker.
    return argv[3:4] == ["worker"] and "--task-queue" not in argv


def _is_api(argv: list[str]) -> bool:
    return argv[3:4] == ["api"]


def _is_edge(argv: list[str]) -> bool:
    return argv[3:4] == ["edge"]


def _is_temporal(argv: list[str]) -> bool:
    return argv[:1] == [str(temporal_binary())]


ROLES: dict[str, Callable[[list[str]], bool]] = {
    "worker": _is_worker,
    "api": _is_api,
    "edge": _is_edge,
    "temporal": _is_temporal,
}


def child(supervisor: int, role: str, timeout: float = RESTART_TIMEOUT) -> int:
    """The pid of the supervisor's live child in `role`, waiting for it to be (re)started."""
    found: list[int] = []

    def running() -> bool:
        found[:] = [p for p in children_of(supervisor) if ROLES[role](command_line(p))]
        return bool(found)

    wait_until(running, f"the stack's {role}", timeout)
    return found[0]


def kill_child(supervisor: int, role: str) -> None:
    """SIGKILL the child in `role` and wait until the supervisor has started another."""
    pid = child(supervisor, role)
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: not alive(pid), f"the killed {role} to die")
    wait_until(lambda: child(supervisor, role) != pid, f"a new {role}", RESTART_TIMEOUT)


@dataclass
class Kill:
    """One fault: when, and what each ticket was doing at that moment."""

    role: str
    after: float
    phases: Counter[str]


@dataclass
class RandomKiller:
    """Kills one role of the stack `count` times at seeded random gaps while tickets run."""

    supervisor: int
    role: str
    count: int
    seed: int
    phases: Callable[[], dict[str, str]]
    gaps: tuple[float, float] = (1.0, 4.0)
    kills: list[Kill] = field(default_factory=list)
    _done: threading.Event = field(default_factory=threading.Event)
    _error: list[BaseException] = field(default_factory=list)

    def _run(self) -> None:
        rng = random.Random(self.seed)
        started = time.monotonic()
        try:
            for _ in range(self.count):
                if self._done.wait(rng.uniform(*self.gaps)):
                    return
                phases = Counter(self.phases().values())
                kill_child(self.supervisor, self.role)
                self.kills.append(Kill(self.role, time.monotonic() - started, phases))
        except BaseException as exc:  # reported by stop(): a thread's failure must fail the test
            self._error.append(exc)

    @contextmanager
    def running(self) -> Iterator[RandomKiller]:
        """Kill in the background for the duration; re-raise the killer's own failure."""
        thread = threading.Thread(target=self._run, name=f"kill-{self.role}", daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._done.set()
            thread.join(RESTART_TIMEOUT)
        if self._error:
            raise self._error[0]

    def summary(self) -> str:
        """The kills and what the tickets were doing, for a failure message."""
        return "; ".join(f"{k.role} at {k.after:.1f} s during {dict(k.phases)}" for k in self.kills)


@contextmanager
def stopped(pid: int) -> Iterator[None]:
    """SIGSTOP a process for the duration (it holds every request it was sent), then SIGCONT."""
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


def reserved_ticket_key(*, database_url: str, user: str, idempotency_key: str) -> str | None:
    """The ticket key a create with this Idempotency-Key has reserved and committed, if any."""
    engine = make_sync_engine(database_url)
    try:
        with engine.connect() as connection:
            found: str | None = connection.scalar(
                select(IdempotencyRow.ticket_key).where(
                    IdempotencyRow.user_name == user, IdempotencyRow.key == idempotency_key
                )
            )
    finally:
        engine.dispose()
    return found


@dataclass
class Outage:
    """Makes the proxy's target unreachable once, `delay` s into the block, for `seconds`."""

    proxy: OutageProxy
    delay: float
    seconds: float
    dropped: int = 0
    happened: bool = False

    def _run(self) -> None:
        time.sleep(self.delay)
        with self.proxy.outage():
            time.sleep(self.seconds)
            self.dropped = self.proxy.dropped
        self.happened = True

    @contextmanager
    def running(self) -> Iterator[Outage]:
        """Run the outage in the background; the block's end waits for it to be over."""
        thread = threading.Thread(target=self._run, name="outage", daemon=True)
        thread.start()
        try:
            yield self
        finally:
            thread.join(self.delay + self.seconds + 30)

    def summary(self) -> str:
        """What the outage did, for a failure message."""
        return (
            f"database unreachable {self.seconds:.0f} s from {self.delay:.1f} s, "
            f"{self.dropped} connections dropped"
        )
