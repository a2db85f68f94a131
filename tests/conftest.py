"""Suite-wide hooks."""

from __future__ import annotations

import pytest

from tests.dbutil import finish_databases


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Drop what the suite's databases left: pending PostgreSQL drops and the templates."""
    finish_databases()
