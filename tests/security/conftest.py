"""The HTTP fixtures of tests/api for the adversarial suite: a real dev server and database."""

from __future__ import annotations

from tests.api.conftest import api, database_url, dev_env

__all__ = ["api", "database_url", "dev_env"]
