"""The kill-point hook: inert unless armed, kills its own process at the armed Nth call only."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from domain.messages import PROJECT_ACTIVITY, ProjectionInput
from domain.triage import TRIAGE_ACTIVITY
from workers.kill_points import KILL_DIR_ENV, POINTS, kill_point_interceptors

pytestmark = pytest.mark.chaos

# Reaches the triage point five times, printing the count before each.
CALLER = """
import sys
from pathlib import Path
from workers.kill_points import KillPoints

points = KillPoints(Path(sys.argv[1]))
for n in range(1, 6):
    print(n, flush=True)
    points.reached("{target}", False, {{"workflow_id": "T-1"}})
"""


def run(directory: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", CALLER.format(target=TRIAGE_ACTIVITY), str(directory)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_an_armed_point_kills_at_its_nth_call_and_leaves_a_marker(tmp_path: Path) -> None:
    (tmp_path / "triage.arm").write_text("3 nonce")
    (tmp_path / "sla.arm").write_text("1 nonce")
    done = run(tmp_path)
    assert done.returncode == -signal.SIGKILL
    assert done.stdout.split() == ["1", "2", "3"]
    marker = json.loads((tmp_path / "triage.hit").read_text())
    assert (marker["point"], marker["call"], marker["workflow_id"]) == ("triage", 3, "T-1")
    # The point is disarmed by its kill; another point's arm is untouched.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sla.arm", "triage.hit"]
    # A restarted process runs on unharmed.
    again = run(tmp_path)
    assert (again.returncode, again.stdout.split()) == (0, ["1", "2", "3", "4", "5"])


def test_unarmed_points_and_an_unset_variable_do_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    done = run(tmp_path)
    assert (done.returncode, list(tmp_path.iterdir())) == (0, [])
    monkeypatch.delenv(KILL_DIR_ENV, raising=False)
    assert kill_point_interceptors() == []
    monkeypatch.setenv(KILL_DIR_ENV, str(tmp_path))
    assert len(kill_point_interceptors()) == 1
    assert {"triage", "update", "projection", "projection-done", "sla", "care-send"} <= set(POINTS)


def test_the_sla_point_counts_only_projections_that_carry_notifications() -> None:
    sla = POINTS["sla"]
    assert sla.target == PROJECT_ACTIVITY
    assert sla.counts is not None
    firing = ProjectionInput.model_construct(notifications=[object()])
    transition = ProjectionInput.model_construct(notifications=[])
    assert sla.counts([firing])
    assert not sla.counts([transition])
    assert not sla.counts([])
