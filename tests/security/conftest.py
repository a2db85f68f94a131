"""The API fixtures (real HTTP, Temporal dev server, SQLite or PostgreSQL) for security tests."""

from tests.api.conftest import api, database_url, dev_env

__all__ = ["api", "database_url", "dev_env"]
