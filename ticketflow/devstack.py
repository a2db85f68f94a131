"""`ticketflow dev`: run Temporal, the workers and the API on one machine until Ctrl-C."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import fcntl
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, NoReturn

from temporalio.client import Client
from temporalio.service import RPCError
from tenacity import RetryCallState, Retrying, wait_exponential

from domain.devices import edge_queue
from ticketflow.settings import Settings, StackState, read_state, write_state
from ticketflow.temporal_client import ensure_search_attributes
from ticketflow.temporal_server import (
    dev_server_command,
    port_accepts,
    port_in_use,
    temporal_binary,
)

TEMPORAL_HOST = "127.0.0.1"
UI_PORT_OFFSET = 1000
STOP_TIMEOUT = 15.0
POLL_INTERVAL = 0.25
LOCK_FILE = "stack.lock"
# Restart delays of a child that keeps dying: 0.5 s, 1 s, 2 s, ... at most 30 s. A child that
# has stayed up this long starts again from the shortest delay.
RESTART_BACKOFF = wait_exponential(multiplier=0.5, max=30)
STABLE_AFTER = 60.0
PR_SET_PDEATHSIG = 1  # linux/prctl.h
WORKER_METRICS_VARIABLE = "TICKETFLOW_WORKER_METRICS_ADDRESS"
# The site whose edge worker the stack runs: a device registered there is read with no setup
# (and the default device host allow-list has it, for loopback endpoints).
DEV_SITE = "local"

log = logging.getLogger("ticketflow.dev")
_libc = ctypes.CDLL(None, use_errno=True) if sys.platform == "linux" else None


class StackError(Exception):
    """The dev stack cannot start or keep running; the message is for the user."""


def _die_with_parent(parent: int) -> Callable[[], None]:
    """A pre-exec hook: the kernel kills the child when its parent dies, even by SIGKILL."""

    def hook() -> None:
        if _libc is not None:
            _libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL))
        # The parent may have died between fork and prctl; then no signal would ever come.
        if os.getppid() != parent:
            os._exit(1)

    return hook


def _signal_name(number: int) -> str:
    """SIGKILL for 9; the number for a signal Python has no name for."""
    names = {sig.value: sig.name for sig in signal.Signals}
    return names.get(number, f"signal {number}")


def restart_delay(restarts: int) -> float:
    """Seconds to wait before the `restarts`-th restart in a row of a child."""
    state = RetryCallState(retry_object=Retrying(), fn=None, args=(), kwargs={})
    state.attempt_number = restarts
    return float(RESTART_BACKOFF(state))


@dataclass
class Child:
    """One supervised child process in its own process group."""

    name: str
    argv: list[str]
    env: dict[str, str] | None = None
    log_path: Path | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)
    restarts: int = field(default=0, init=False)
    started_at: float = field(default=0.0, init=False)
    restart_at: float | None = field(default=None, init=False)
    _log: IO[bytes] | None = field(default=None, init=False)

    def start(self) -> None:
        """Start the process; output goes to `log_path`, else to this terminal."""
        if self.log_path is not None and self._log is None:
            self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            self.argv,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT if self._log else None,
            # Its own group: a terminal Ctrl-C reaches only the supervisor, which then
            # stops the children one by one, in order.
            process_group=0,
            # The death signal follows the thread that forks: only the main thread starts children.
            preexec_fn=_die_with_parent(os.getpid()),
        )
        self.started_at = time.monotonic()
        self.restart_at = None

    def watch(self, now: float) -> None:
        """Restart the process with backoff if it has died; log each restart."""
        if self.restart_at is not None:
            if now >= self.restart_at:
                log.warning("restarting %s", self.name)
                self.start()
            return
        code = self.exit_code()
        if code is None:
            if now - self.started_at >= STABLE_AFTER:
                self.restarts = 0
            return
        self.restarts += 1
        delay = restart_delay(self.restarts)
        how = f"was killed by {_signal_name(-code)}" if code < 0 else f"exited with code {code}"
        where = f" (its log: {self.log_path})" if self.log_path else ""
        log.warning(
            "%s %s%s; restarting it in %.1f s (restart %d in a row)",
            self.name,
            how,
            where,
            delay,
            self.restarts,
        )
        self.restart_at = now + delay

    def exit_code(self) -> int | None:
        """The exit code once the process has ended, else None."""
        return None if self.process is None else self.process.poll()

    def stop(self, timeout: float) -> None:
        """Ask the process group to stop (SIGINT), then SIGKILL it after `timeout` s."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                sys.stderr.write(f"ticketflow dev: {self.name} did not stop in time; killing it\n")
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_tail(self, lines: int = 20) -> str:
        """The last lines of the log file, indented, or an empty string."""
        if self.log_path is None or not self.log_path.exists():
            return ""
        tail = self.log_path.read_text(errors="replace").splitlines()[-lines:]
        return "".join(f"    {line}\n" for line in tail)


def run_dev_stack(*, settings: Settings, api_port: int, temporal_port: int) -> int:
    """Run the Temporal dev server, the workers (tickets, training, the `local` site's edge) and
    the API until Ctrl-C; return an exit code."""
    data_dir = settings.data_dir.resolve()
    (data_dir / "logs").mkdir(parents=True, exist_ok=True)
    lock = _lock_data_dir(data_dir)
    if lock is None:
        return 2
    try:
        return _run_locked(
            settings=settings, data_dir=data_dir, api_port=api_port, temporal_port=temporal_port
        )
    finally:
        os.close(lock)


def _lock_data_dir(data_dir: Path) -> int | None:
    """Hold the data dir's lock (a file descriptor), or say which stack holds it and why not."""
    while True:
        lock = _try_lock(data_dir)
        if lock is not None:
            return lock
        state = read_state(data_dir)
        who = f"a Ticketflow stack (pid {state.pid}, {state.api_url})" if state else "a stack"
        message = f"ticketflow dev: {who} is already running on {data_dir}"
        if not sys.stdin.isatty():
            sys.stderr.write(
                f"{message}; stop it with `ticketflow dev --stop --data-dir {data_dir}`\n"
            )
            return None
        try:
            answer = input(f"{message}. Stop it and start again? [y/N] ")
        except (EOFError, KeyboardInterrupt):
            answer = ""
        if answer.strip().lower() not in ("y", "yes"):
            return None
        if stop_dev_stack(data_dir) != 0:
            return None


def _try_lock(data_dir: Path) -> int | None:
    """The data dir's lock, taken without waiting, or None while another process holds it."""
    # The descriptor is not inherited by children (Python's default), so the lock is free
    # the moment this process dies, however it dies.
    fd = os.open(data_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def stop_dev_stack(data_dir: Path) -> int:
    """Stop the stack running on `data_dir` as Ctrl-C would; return an exit code."""
    data_dir = data_dir.resolve()
    if not (data_dir / LOCK_FILE).exists() or _release(_try_lock(data_dir)):
        sys.stderr.write(f"ticketflow dev: no stack is running on {data_dir}\n")
        return 0
    state = read_state(data_dir)
    if state is None:
        sys.stderr.write(
            f"ticketflow dev: a stack holds {data_dir / LOCK_FILE} but wrote no state\n"
        )
        return 1
    with contextlib.suppress(ProcessLookupError):
        os.kill(state.pid, signal.SIGTERM)
    # The stack stops its children one by one, each within STOP_TIMEOUT.
    deadline = time.monotonic() + 4 * STOP_TIMEOUT
    while not _release(_try_lock(data_dir)):
        if time.monotonic() >= deadline:
            sys.stderr.write(f"ticketflow dev: the stack (pid {state.pid}) did not stop in time\n")
            return 1
        time.sleep(POLL_INTERVAL)
    sys.stderr.write(f"ticketflow dev: stopped the stack (pid {state.pid}) on {data_dir}\n")
    return 0


def _release(lock: int | None) -> bool:
    """Close a lock just taken; True when it could be taken (nobody held it)."""
    if lock is None:
        return False
    os.close(lock)
    return True


def _run_locked(*, settings: Settings, data_dir: Path, api_port: int, temporal_port: int) -> int:
    """Run the stack while this process holds the data dir's lock."""
    ui_port = temporal_port + UI_PORT_OFFSET
    conflict = _port_conflict(settings.api_host, api_port, temporal_port, ui_port)
    if conflict:
        sys.stderr.write(f"ticketflow dev: {conflict}\n")
        return 2
    try:
        binary = temporal_binary()
    except FileNotFoundError as exc:
        sys.stderr.write(f"ticketflow dev: {exc}\n")
        return 1

    address = f"{TEMPORAL_HOST}:{temporal_port}"
    allowed = dev_allowed_hosts(settings.http_allowed_hosts)
    settings = settings.model_copy(
        update={"data_dir": data_dir, "temporal_address": address, "http_allowed_hosts": allowed}
    )
    api_url = f"http://{settings.api_host}:{api_port}"
    write_state(
        data_dir,
        StackState(
            database_url=settings.effective_database_url,
            temporal_address=address,
            temporal_namespace=settings.temporal_namespace,
            task_queue=settings.task_queue,
            api_url=api_url,
            pid=os.getpid(),
        ),
    )
    env = {
        **os.environ,
        "TICKETFLOW_DATA_DIR": str(data_dir),
        "TICKETFLOW_TEMPORAL_ADDRESS": address,
        "TICKETFLOW_HTTP_ALLOWED_HOSTS": ",".join(allowed),
        "PYTHONUNBUFFERED": "1",
    }
    temporal = Child(
        "the Temporal dev server",
        dev_server_command(
            binary=binary,
            db_file=data_dir / "temporal.db",
            port=temporal_port,
            ui_port=ui_port,
            ip=TEMPORAL_HOST,
            namespace=settings.temporal_namespace,
        ),
        log_path=data_dir / "logs" / "temporal.log",
    )
    worker = Child("the worker", [sys.executable, "-m", "ticketflow", "worker"], env)
    # The Temporal SDK's metrics are the tickets worker's: a second process on the same address
    # would fail to bind it.
    training_env = {k: v for k, v in env.items() if k != WORKER_METRICS_VARIABLE}
    training = Child(
        "the training worker",
        [*worker.argv, "--task-queue", settings.training_task_queue],
        training_env,
    )
    edge = Child(
        f"the edge worker for site {DEV_SITE}",
        [sys.executable, "-m", "ticketflow", "edge", "--site", DEV_SITE],
        env,
    )
    api = Child(
        "the API", [sys.executable, "-m", "ticketflow", "api", "--port", str(api_port)], env
    )

    started: list[Child] = []
    stop_signals = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    previous = {sig: signal.getsignal(sig) for sig in stop_signals}
    for sig in stop_signals:
        # SIGTERM and a closed terminal stop the stack the way Ctrl-C does.
        signal.signal(sig, signal.default_int_handler)
    try:
        started.append(temporal)
        temporal.start()
        startup = settings.dev_startup_seconds
        asyncio.run(_wait_for_temporal(temporal, address, settings.temporal_namespace, startup))
        definitions = _prepare_store(settings)
        for child in (worker, training, edge, api):
            started.append(child)
            child.start()
        _wait_for_api(settings.api_host, api_port, started, startup)
        _print_banner(settings.api_host, api_port, ui_port, data_dir, definitions, allowed)
        _supervise(started)
    except KeyboardInterrupt:
        sys.stderr.write("\nticketflow dev: stopping\n")
        return 0
    except StackError as exc:
        sys.stderr.write(f"ticketflow dev: {exc}\n")
        return 1
    finally:
        # A second Ctrl-C must not abandon children half-stopped; stopping is bounded anyway.
        for sig in stop_signals:
            signal.signal(sig, signal.SIG_IGN)
        for child in reversed(started):
            child.stop(STOP_TIMEOUT)
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def dev_allowed_hosts(configured: list[str]) -> list[str]:
    """The allow-list of a dev stack: the operator's, plus the hosts the bundled examples call.

    The examples must publish on a fresh stack with nothing configured; they call only
    loopback endpoints, and only `ticketflow dev` (never the worker or API run alone) adds them.
    """
    from services.bundled import bundled_http_hosts

    return [*configured, *(host for host in bundled_http_hosts() if host not in configured)]


def _port_conflict(api_host: str, api_port: int, temporal_port: int, ui_port: int) -> str | None:
    """Why the stack cannot use these ports, or None when it can."""
    if ui_port > 65535:
        return f"--temporal-port {temporal_port} leaves no room for the UI port (it + 1000)"
    if len({api_port, temporal_port, ui_port}) < 3:
        return (
            f"the API port {api_port} collides with the Temporal ports "
            f"{temporal_port} and {ui_port}; choose another with --port"
        )
    checks = (
        (api_host, api_port, "the API", "--port"),
        (TEMPORAL_HOST, temporal_port, "Temporal", "--temporal-port"),
        (TEMPORAL_HOST, ui_port, "the Temporal UI (--temporal-port + 1000)", "--temporal-port"),
    )
    for host, port, user, flag in checks:
        if port_in_use(host, port):
            return f"port {port} for {user} is already in use; choose another with {flag}"
    return None


async def _wait_for_temporal(temporal: Child, address: str, namespace: str, within: float) -> None:
    """Wait until the dev server answers gRPC, then make sure our search attributes exist."""
    deadline = time.monotonic() + within
    while True:
        _check_alive([temporal])
        try:
            client = await asyncio.wait_for(Client.connect(address, namespace=namespace), timeout=5)
            await ensure_search_attributes(client)
            return
        except (RuntimeError, RPCError, TimeoutError):
            if time.monotonic() >= deadline:
                raise StackError(
                    f"the Temporal dev server did not answer on {address} within "
                    f"{within:.0f} s; end of {temporal.log_path}:\n{temporal.log_tail()}"
                ) from None
            await asyncio.sleep(POLL_INTERVAL)


def _prepare_store(settings: Settings) -> list[str]:
    """Migrate, publish the bundled definitions; return every published key@latest-version."""
    from services.publishing import load_bundled_definitions
    from store.migrate import upgrade_database

    upgrade_database(url=settings.effective_database_url)
    asyncio.run(load_bundled_definitions(settings=settings))
    return asyncio.run(_published_definitions(settings))


async def _published_definitions(settings: Settings) -> list[str]:
    """`key@version` of the latest version of every definition in the database, by key."""
    from store.db import make_async_engine, make_sessionmaker
    from store.definitions import list_definitions

    engine = make_async_engine(settings.effective_database_url)
    try:
        async with make_sessionmaker(engine)() as session:
            rows = await list_definitions(session=session)
    finally:
        await engine.dispose()
    latest: dict[str, int] = {}
    for row in rows:  # newest version first per key
        latest.setdefault(row.key, row.version)
    return [f"{key}@{version}" for key, version in latest.items()]


def _check_alive(children: list[Child]) -> None:
    """Raise StackError naming the first child that has exited."""
    for child in children:
        code = child.exit_code()
        if code is not None:
            tail = child.log_tail()
            where = f"; end of {child.log_path}:\n{tail}" if tail else ""
            raise StackError(f"{child.name} exited unexpectedly with code {code}{where}")


def _wait_for_api(host: str, port: int, children: list[Child], timeout: float) -> None:
    """Wait until the API accepts connections, failing if any child exits meanwhile."""
    deadline = time.monotonic() + timeout
    while not port_accepts(host, port):
        _check_alive(children)
        if time.monotonic() >= deadline:
            raise StackError(f"the API did not listen on port {port} within {timeout:.0f} s")
        time.sleep(POLL_INTERVAL)


def _supervise(children: list[Child]) -> NoReturn:
    """Restart any child that dies, with backoff, until the user stops the stack."""
    while True:
        now = time.monotonic()
        for child in children:
            child.watch(now)
        time.sleep(POLL_INTERVAL)


def _print_banner(
    host: str,
    api_port: int,
    ui_port: int,
    data_dir: Path,
    definitions: list[str],
    allowed_hosts: list[str],
) -> None:
    """Tell the user where everything is and how to get a token."""
    api = f"http://{host}:{api_port}"
    print(
        "\nTicketflow is running.\n"
        f"  API:          {api}  (docs at {api}/docs)\n"
        f"  Temporal UI:  http://{TEMPORAL_HOST}:{ui_port}\n"
        f"  Data dir:     {data_dir}  (Temporal log: logs/temporal.log)\n"
        f"  Definitions:  {', '.join(definitions) or 'none'}\n"
        f"  Devices:      site {DEV_SITE} read by its edge worker (queue {edge_queue(DEV_SITE)})\n"
        f"  HTTP allowed: {', '.join(allowed_hosts)}  (TICKETFLOW_HTTP_ALLOWED_HOSTS and the "
        "examples' endpoints)\n"
        "  Get a token:  ticketflow users add NAME --department D --role R\n"
        "Press Ctrl-C to stop.\n",
        flush=True,
    )
