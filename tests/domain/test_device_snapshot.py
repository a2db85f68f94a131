"""The snapshot workflow's bounds: the backoffs of its retries and its longest run."""

from __future__ import annotations

from datetime import timedelta

import pytest

from domain.definitions import RetrySpec
from domain.device_snapshot import SNAPSHOT_LONGEST, retry_waits, snapshot_workflow_id

S = timedelta(seconds=1)


@pytest.mark.parametrize(
    ("spec", "waits"),
    [
        (RetrySpec(maximum_attempts=1), timedelta(0)),
        (RetrySpec(maximum_attempts=3, initial_interval=S, maximum_interval=4 * S), 3 * S),
        (RetrySpec(maximum_attempts=5, initial_interval=S, maximum_interval=4 * S), 11 * S),
        (RetrySpec(maximum_attempts=3, initial_interval=S, backoff_coefficient=1.0), 2 * S),
        # A maximum below the initial interval waits the initial interval each time.
        (RetrySpec(maximum_attempts=3, initial_interval=2 * S, maximum_interval=S), 4 * S),
    ],
)
def test_retry_waits_add_up_the_capped_backoffs(spec: RetrySpec, waits: timedelta) -> None:
    assert retry_waits(spec) == waits


def test_the_longest_run_waits_for_a_worker_then_every_attempt_and_backoff() -> None:
    # 5 s for a worker, 3 attempts of 10 s, backoffs of 1 s and 2 s.
    assert timedelta(seconds=38) == SNAPSHOT_LONGEST


def test_each_request_has_its_own_workflow_id() -> None:
    assert snapshot_workflow_id("pump-7", "ab") == "device-snapshot:pump-7:ab"
    assert snapshot_workflow_id("pump-7", "ab") != snapshot_workflow_id("pump-7", "cd")
