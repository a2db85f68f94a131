"""Field-use counters: sampled reads, exact writes, flushed in the background and at stop."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from policies.access import FieldUsage, flush_usage_until
from store.access import field_use_since
from tests.dbutil import migrated_sessions, sqlite_url


async def test_counts_reach_the_database_while_running_and_at_stop(tmp_path: Path) -> None:
    async with migrated_sessions(sqlite_url(tmp_path)) as sessions:
        usage = FieldUsage()
        stop = asyncio.Event()
        flusher = asyncio.create_task(
            flush_usage_until(stop, usage=usage, sessions=sessions, every=0.05)
        )
        usage.wrote("agent", ["phone", "phone", "notes"])
        await asyncio.sleep(0.3)
        since = datetime.now(UTC) - timedelta(days=1)
        async with sessions() as session:
            uses = await field_use_since(session=session, role="agent", since=since)
        assert {k: u.count for k, u in uses.items()} == {
            ("phone", "write"): 2,
            ("notes", "write"): 1,
        }
        usage.wrote("agent", ["phone"])
        stop.set()
        await flusher
        async with sessions() as session:
            uses = await field_use_since(session=session, role="agent", since=since)
        assert uses[("phone", "write")].count == 3
        assert usage.drain() == {}
