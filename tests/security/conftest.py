"""The API fixtures (real dev server, worker and database) for the security tests."""

from tests.api.conftest import api, database_url, dev_env

__all__ = ["api", "database_url", "dev_env"]
