"""The app database unreachable for a while under live tickets (PostgreSQL behind a proxy).

The test starts its own proxy in front of the configured PostgreSQL and points the stack at
it; the machine's PostgreSQL is never stopped.
"""

from __future__ import annotations

import random

import pytest
from sqlalchemy import make_url

from tests.chaos.checker import findings
from tests.chaos.conftest import FULL, SCALE, SEED, chaos_stack
from tests.chaos.driver import Driver, Finding, run_lives
from tests.chaos.faults import Outage
from tests.chaos.proxy import HOST, OutageProxy
from tests.dbutil import POSTGRES_SKIP_REASON, fresh_postgres_database, postgres_server_url

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.chaos,
    pytest.mark.postgres,
    pytest.mark.timeout(3600 if FULL else 900),
    pytest.mark.skipif(postgres_server_url() is None, reason=POSTGRES_SKIP_REASON),
]


def test_database_unreachable_mid_lives(tmp_path: object) -> None:
    server = postgres_server_url()
    assert server is not None
    with fresh_postgres_database(server) as direct:
        url = make_url(direct)
        with OutageProxy(url.host or HOST, url.port or 5432).running() as proxy:
            proxied = url.set(host=HOST, port=proxy.port).render_as_string(hide_password=False)
            env = {"TICKETFLOW_DATABASE_URL": proxied}
            with chaos_stack(tmp_path, env=env) as stack:  # type: ignore[arg-type]
                driver = Driver(stack.base_url, stack.tokens, "db-outage")
                delay = random.Random(SEED + 2).uniform(1.0, 3.0)
                outage = Outage(proxy, delay=delay, seconds=SCALE.outage_seconds)
                try:
                    with outage.running():
                        lives = run_lives(driver, list(range(SCALE.tickets)))
                except Finding as exc:
                    raise Finding(f"{exc}\nfaults: {outage.summary()}\nseed: {SEED}") from exc
                assert outage.happened, outage.summary()
                assert outage.dropped, outage.summary()
                problems = findings(stack.records([life.key for life in lives]), stack.clean)
                assert not problems, "\n".join([*problems, outage.summary(), f"seed: {SEED}"])
