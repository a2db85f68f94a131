"""What confirming an Update's projection costs the API, against the projection write itself.

The API confirms an Update's events (store.projection.confirm_committed) after Temporal
answers it: one transaction instead of a Temporal round trip. This times, on a migrated SQLite
file in one process, N tentative one-event projection writes (the baseline: what the worker's
local activity does per transition) and N confirmations of them, in alternating rounds.

Run from the repository root:

    .venv/bin/python bench/confirmation.py [--tickets 300] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

# This directory's scripts (forms.py) would shadow the project's packages.
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker  # noqa: E402

from store.confirmation import confirm_committed  # noqa: E402
from store.projection import apply_projection  # noqa: E402
from tests.dbutil import migrated_sessions, sqlite_url  # noqa: E402
from tests.store.snapshots import event, snapshot  # noqa: E402


async def project(sessions: async_sessionmaker[AsyncSession], key: str) -> None:
    """A tentative write of a ticket's creation, as an Update's local activity makes it."""
    async with sessions() as session, session.begin():
        await apply_projection(
            session=session,
            ticket=snapshot(key, 1),
            events=[event(1, "created")],
            committed_through=0,
        )


async def confirm(sessions: async_sessionmaker[AsyncSession], key: str) -> None:
    """The API's confirmation once the Update answered."""
    async with sessions() as session, session.begin():
        await confirm_committed(session=session, key=key, through=1)


async def main(tickets: int, rounds: int) -> None:
    """Print the mean of each and their ratio."""
    spent = {"projection": 0.0, "confirmation": 0.0}
    with tempfile.TemporaryDirectory() as tmp:
        async with migrated_sessions(sqlite_url(Path(tmp))) as sessions:
            for k in range(20):  # warm-up: connections, compiled statements
                await project(sessions, f"W-{k}")
                await confirm(sessions, f"W-{k}")
            for r in range(rounds):
                keys = [f"T{r}-{k}" for k in range(tickets)]
                for name, step in (("projection", project), ("confirmation", confirm)):
                    start = time.perf_counter()
                    for key in keys:
                        await step(sessions, key)
                    spent[name] += time.perf_counter() - start
    n = tickets * rounds
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"{n} of each on SQLite, load average {load}")
    for name, seconds in spent.items():
        print(f"{name:14} {seconds / n * 1e3:7.2f} ms each")
    print(f"confirmation / projection: {spent['confirmation'] / spent['projection']:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main(args.tickets, args.rounds))
