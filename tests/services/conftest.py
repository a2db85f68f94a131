"""The service tests run on the store tests' databases: SQLite and, when configured, PostgreSQL."""

from __future__ import annotations

from tests.store.conftest import database_url, migrated_database_url, session_factory

__all__ = ["database_url", "migrated_database_url", "session_factory"]
