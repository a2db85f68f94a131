"""Real Temporal servers for tests: the time-skipping test server and the dev server."""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from ticketflow.temporal_client import DATA_CONVERTER, ensure_search_attributes
from workflows import search_attributes

BIN = Path(sys.executable).parent
# The SDK waits 5 s for a server to answer; a loaded 2-core machine can take longer.
STARTUP = timedelta(seconds=60)


async def time_skipping_env() -> WorkflowEnvironment:
    """A fresh time-skipping test server (its own clock) with our search attributes."""
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=DATA_CONVERTER,
        test_server_existing_path=str(BIN / "temporal-test-server"),
        test_server_startup_timeout=STARTUP,
    )
    await ensure_search_attributes(env.client)
    return env


async def dev_server_env(extra_args: list[str] | None = None) -> WorkflowEnvironment:
    """A fresh in-memory Temporal dev server with our search attributes (and `extra_args`)."""
    return await WorkflowEnvironment.start_local(
        data_converter=DATA_CONVERTER,
        dev_server_existing_path=str(BIN / "temporal"),
        dev_server_startup_timeout=STARTUP,
        search_attributes=list(search_attributes.ALL),
        dev_server_extra_args=extra_args or [],
    )
