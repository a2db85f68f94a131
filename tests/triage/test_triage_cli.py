"""`ticketflow triage` offline: train from a CSV export, eval, list, roll back."""

from __future__ import annotations

import json
from pathlib import Path

from tests.test_cli import ticketflow
from tests.triage.fixtures import SAMPLE


def test_train_from_csv_then_eval_models_and_rollback(tmp_path: Path) -> None:
    assert ticketflow(tmp_path, "migrate").returncode == 0
    csv_args = ["--csv", str(SAMPLE), "--text", "title,description", "--label", "team"]
    first = ticketflow(tmp_path, "triage", "train", *csv_args, "--category", "category")
    assert first.returncode == 0, first.stderr
    trained = json.loads(first.stdout)
    assert trained["promoted"] is True
    assert trained["version"] == 1
    assert (tmp_path / "triage-models" / "triage-v1.joblib").is_file()

    report = ticketflow(tmp_path, "triage", "eval", *csv_args)
    assert report.returncode == 0, report.stderr
    assert "accuracy" in report.stdout
    assert "macro-F1" in report.stdout
    assert "confusion matrix" in report.stdout
    assert "facilities" in report.stdout

    # The same data again: no better on the same split, so it stays a candidate.
    second = json.loads(ticketflow(tmp_path, "triage", "train", *csv_args).stdout)
    assert second["version"] == 2
    assert second["promoted"] is (second["accuracy"] > second["current_accuracy"])

    assert ticketflow(tmp_path, "triage", "rollback", "--to", "2").returncode == 0
    back = ticketflow(tmp_path, "triage", "rollback")
    assert back.returncode == 0, back.stderr
    assert "v1 is live" in back.stdout
    models = [
        json.loads(line) for line in ticketflow(tmp_path, "triage", "models").stdout.splitlines()
    ]
    assert {m["version"]: m["status"] for m in models}[1] == "active"


def test_bad_csv_columns_are_named(tmp_path: Path) -> None:
    assert ticketflow(tmp_path, "migrate").returncode == 0
    result = ticketflow(tmp_path, "triage", "train", "--csv", str(SAMPLE), "--label", "queue")
    assert result.returncode == 2
    assert "no column queue" in result.stderr
    assert ticketflow(tmp_path, "triage", "eval").returncode == 2
