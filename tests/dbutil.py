"""Fresh databases for tests: a SQLite file per test, or a throwaway PostgreSQL database.

PostgreSQL is used when TICKETFLOW_TEST_DATABASE_URL names a server database to connect to
for CREATE/DROP DATABASE (e.g. postgresql://postgres@127.0.0.1:5432/postgres).

Running every migration costs about a second per test (two on PostgreSQL, with the CREATE and
DROP), so the migrations run once per test process into a template: a SQLite file that fresh
files are copied from, or a PostgreSQL database that fresh ones are created from. PostgreSQL
databases are created one ahead and dropped on background threads; `finish_databases` drops
the spares and waits for the drops.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import asynccontextmanager, contextmanager
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from store.db import make_async_engine, make_sessionmaker, sync_url
from store.migrate import upgrade_database

POSTGRES_ENV = "TICKETFLOW_TEST_DATABASE_URL"
POSTGRES_SKIP_REASON = (
    f"{POSTGRES_ENV} is not set; set it to a PostgreSQL server URL "
    "(e.g. postgresql://postgres@127.0.0.1:5432/postgres) to run the PostgreSQL variant"
)
DATABASE_KINDS = ("sqlite", "postgresql")


def sqlite_url(tmp_path: Path) -> str:
    """The URL of a SQLite file inside this test's temporary directory."""
    return f"sqlite:///{tmp_path / 'ticketflow.db'}"


def postgres_server_url() -> str | None:
    """The PostgreSQL server URL from the environment, or None when not configured."""
    return os.environ.get(POSTGRES_ENV) or None


def database_params() -> list[Any]:
    """pytest params for each backend; PostgreSQL is skipped when it is not configured."""
    return [
        pytest.param("sqlite", id="sqlite"),
        pytest.param(
            "postgresql",
            id="postgresql",
            marks=[
                pytest.mark.postgres,
                pytest.mark.skipif(postgres_server_url() is None, reason=POSTGRES_SKIP_REASON),
            ],
        ),
    ]


@cache
def _sqlite_template() -> Path:
    """A SQLite file migrated to head, made once per test process."""
    path = Path(tempfile.mkdtemp(prefix="tf-template-")) / "template.db"
    upgrade_database(url=f"sqlite:///{path}")
    return path


def _administer(server_url: str, statement: str) -> None:
    """Run one statement outside a transaction (CREATE and DROP DATABASE need that)."""
    admin = create_engine(sync_url(server_url), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(statement))
    finally:
        admin.dispose()


@cache
def _postgres_template(server_url: str) -> str:
    """The name of a PostgreSQL database migrated to head, made once per test process."""
    name = f"tf_template_{uuid.uuid4().hex[:16]}"
    _administer(server_url, f'CREATE DATABASE "{name}"')
    upgrade_database(url=_database_url(server_url, name))
    # A copy needs the template free of sessions; closed to connections, not even autovacuum
    # (which would ANALYZE it after the migrations) opens one.
    _administer(server_url, f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
    return name


def _database_url(server_url: str, name: str) -> str:
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


_dropper = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tf-test-drop")
_drops: list[Future[None]] = []
_at_head: set[str] = set()
_maker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tf-test-create")
# The next PostgreSQL database, by server and whether it is at head, made while a test runs.
_spares: dict[tuple[str, bool], Future[str]] = {}


def _drop(server_url: str, name: str) -> None:
    _administer(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def finish_databases() -> None:
    """Drop the spare databases and wait for the pending drops, then remove this process's
    templates."""
    for (server, _migrated), spare in _spares.items():
        if spare.exception() is None:
            _drops.append(_dropper.submit(_drop, server, spare.result()))
    _spares.clear()
    for future in _drops:
        future.result()
    _drops.clear()
    server_url = postgres_server_url()
    if server_url is not None and _postgres_template.cache_info().currsize:
        _drop(server_url, _postgres_template(server_url))
        _postgres_template.cache_clear()
    if _sqlite_template.cache_info().currsize:
        shutil.rmtree(_sqlite_template().parent, ignore_errors=True)
        _sqlite_template.cache_clear()


def _create(server_url: str, migrated: bool) -> str:
    """Create a uniquely named database (empty, or copied from the template) and name it."""
    name = f"tf_test_{uuid.uuid4().hex[:16]}"
    template = f' TEMPLATE "{_postgres_template(server_url)}"' if migrated else ""
    _administer(server_url, f'CREATE DATABASE "{name}"{template}')
    return name


def _new_database(server_url: str, migrated: bool) -> str:
    """A new database: the spare made in the background (a CREATE DATABASE takes a good part
    of a short test's time, mostly waiting for the server), the next spare started."""
    if migrated:
        _postgres_template(server_url)  # made here, before a spare's thread needs it
    key = (server_url, migrated)
    spare = _spares.pop(key, None)
    # A spare that could not be made is made again here, failing the test if it fails again.
    if spare is not None and spare.exception() is None:
        name = spare.result()
    else:
        name = _create(server_url, migrated)
    _spares[key] = _maker.submit(_create, server_url, migrated)
    return name


@contextmanager
def fresh_postgres_database(server_url: str, *, migrated: bool = False) -> Iterator[str]:
    """A uniquely named database (empty, or at head) of its own: yield its URL, then drop it."""
    name = _new_database(server_url, migrated)
    url = _database_url(server_url, name)
    if migrated:
        _at_head.add(url)
    try:
        yield url
    finally:
        _at_head.discard(url)
        # A DROP waits for the server's checkpoint; the next test need not wait with it.
        _drops.append(_dropper.submit(_drop, server_url, name))


@contextmanager
def fresh_database(kind: str, tmp_path: Path, *, migrated: bool = False) -> Iterator[str]:
    """A database of this kind ("sqlite" or "postgresql"), empty or at head, for the duration."""
    if kind == "sqlite":
        url = sqlite_url(tmp_path)
        if migrated:
            shutil.copyfile(_sqlite_template(), tmp_path / "ticketflow.db")
            _at_head.add(url)
        try:
            yield url
        finally:
            _at_head.discard(url)
        return
    if kind != "postgresql":
        raise ValueError(f"unknown database kind {kind!r}")
    server_url = postgres_server_url()
    if server_url is None:
        # database_params() already skips this parameter when PostgreSQL is not configured.
        raise RuntimeError(POSTGRES_SKIP_REASON)
    with fresh_postgres_database(server_url, migrated=migrated) as url:
        yield url


def _bring_to_head(url: str) -> None:
    """Migrate to head; a SQLite file that does not exist yet is copied from the template."""
    parsed = make_url(url)
    database = parsed.database
    if parsed.get_backend_name() == "sqlite" and database and not Path(database).exists():
        Path(database).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(_sqlite_template(), database)
    elif url not in _at_head:
        upgrade_database(url=url)


@asynccontextmanager
async def migrated_sessions(url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Migrate the database to head and yield a session factory; the engine is disposed after."""
    _bring_to_head(url)
    engine = make_async_engine(url)
    try:
        yield make_sessionmaker(engine)
    finally:
        await engine.dispose()
