"""Engines and sessions for SQLite (aiosqlite) and PostgreSQL (psycopg), async and sync."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

# aiosqlite logs every statement with its parameters at DEBUG, and parameters hold secrets
# (a subscription's signing secret): its logger stays at INFO whatever the root's level.
logging.getLogger("aiosqlite").setLevel(logging.INFO)


def async_url(url: str) -> str:
    """Rewrite a plain database URL to its async driver."""
    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        return u.set(drivername="sqlite+aiosqlite").render_as_string(hide_password=False)
    if u.get_backend_name() == "postgresql":
        return u.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    return url


def sync_url(url: str) -> str:
    """Rewrite a database URL to its sync driver (Alembic, CLI tools)."""
    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        return u.set(drivername="sqlite").render_as_string(hide_password=False)
    if u.get_backend_name() == "postgresql":
        return u.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    return url


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the API read while the worker's projection writes; busy_timeout queues writers.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def _pre_ping(url: str) -> bool:
    # A server connection can drop while pooled; a SQLite file cannot, and pinging it would
    # cost every checkout a statement (on aiosqlite, a round trip to its thread).
    return make_url(url).get_backend_name() != "sqlite"


def make_async_engine(url: str) -> AsyncEngine:
    """An async engine with SQLite pragmas applied on every connection."""
    # Parameters hold secrets: neither SQLAlchemy's statement log nor its errors show them.
    engine = create_async_engine(async_url(url), pool_pre_ping=_pre_ping(url), hide_parameters=True)
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def make_sync_engine(url: str) -> Engine:
    """A sync engine with the same SQLite pragmas."""
    engine = create_engine(sync_url(url), pool_pre_ping=_pre_ping(url), hide_parameters=True)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded objects usable after commit."""
    return async_sessionmaker(engine, expire_on_commit=False)
