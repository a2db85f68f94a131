"""The default policy's enforcer for the pure tests, and the API fixtures for the HTTP ones."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import api, api_settings, database_url, dev_env
from tests.security.policy import seeded_enforcer

# The HTTP tests here use the API's fixtures.
__all__ = ["api", "api_settings", "database_url", "dev_env"]


@pytest.fixture(scope="session")
async def default_enforcer(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The enforcer over the rules a fresh database is seeded with (every migration run)."""
    return await seeded_enforcer(tmp_path_factory.mktemp("default-policy"))
